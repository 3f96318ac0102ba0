-- grain: one row per persona ('all' included), phase and touchpoint
-- The journey map's heat grid: events and distinct customers per cell, with the distinct
-- customers of the whole phase for the share.
with events as (
    select persona, phase, touchpoint, stage, customer_id
    from marts.journey_events
    where phase_order is not null
),

-- one row per customer and cell; a customer has one persona, so counting these rows
-- counts distinct customers, per persona and over all personas alike
customer_cells as (
    select
        persona,
        phase,
        touchpoint,
        customer_id,
        any_value(stage) as stage,
        count(*) as n_events
    from events
    group by persona, phase, touchpoint, customer_id
),

cells as (
    select
        case when grouping(persona) = 1 then 'all' else coalesce(persona, 'unknown') end as persona_key,
        phase,
        touchpoint,
        any_value(stage) as stage,
        sum(n_events) as n_events,
        count(*) as n_customers
    from customer_cells
    group by grouping sets ((persona, phase, touchpoint), (phase, touchpoint))
),

customer_phases as (
    select distinct persona, phase, customer_id from customer_cells
),

phase_totals as (
    select
        case when grouping(persona) = 1 then 'all' else coalesce(persona, 'unknown') end as persona_key,
        phase,
        count(*) as phase_customers
    from customer_phases
    group by grouping sets ((persona, phase), (phase))
),

final as (
    select
        cells.persona_key,
        cells.phase,
        cells.touchpoint,
        cells.stage,
        cells.n_events,
        cells.n_customers,
        phase_totals.phase_customers,
        cells.n_customers / phase_totals.phase_customers as share
    from cells
    inner join phase_totals
        on cells.persona_key = phase_totals.persona_key and cells.phase = phase_totals.phase
)

select * from final
