-- grain: one row per touchpoint and phase
-- depends on: intermediate.journey_cells, marts.journeys
-- How each touchpoint x phase cell performs: volume, reach, how often journeys end there
-- without converting, and what customers feel there (sentiment, CSAT). A group-by over the
-- per-journey cells of intermediate.journey_cells: no event is read here.
with journey_cells as (
    select
        touchpoint,
        phase,
        journey_id,
        customer_id,
        phase_order,
        channel_group,
        stage,
        n_events,
        n_scored_events,
        n_negative_events,
        sum_sentiment,
        n_csat_events,
        sum_csat,
        last_event_at,
        is_last_cell
    from intermediate.journey_cells
),

journeys as (
    select
        journey_id,
        converted,
        ended_at
    from marts.journeys
),

newest as (
    select max(last_event_at) as newest_at
    from journey_cells
),

journey_status as (
    -- a journey is closed once it converted or its inactivity timeout has passed by the newest
    -- event; an open journey may still continue, so it has not exited anywhere yet
    select
        journeys.journey_id,
        coalesce(journeys.converted, false) as is_converted,
        coalesce(journeys.converted, false)
        or journeys.ended_at <= newest.newest_at - to_seconds($timeout_seconds) as is_closed
    from journeys
    cross join newest
),

exits as (
    select
        journey_cells.touchpoint,
        journey_cells.phase,
        count(*) as n_exits
    from journey_cells
    inner join journey_status on journey_cells.journey_id = journey_status.journey_id
    where journey_cells.is_last_cell and journey_status.is_closed and not journey_status.is_converted
    group by journey_cells.touchpoint, journey_cells.phase
),

customer_cells as (
    select
        touchpoint,
        phase,
        count(*) as n_customers,
        count(*) filter (where is_scored) as n_scored_customers
    from (
        select
            touchpoint,
            phase,
            customer_id,
            bool_or(n_scored_events > 0) as is_scored
        from journey_cells
        group by touchpoint, phase, customer_id
    )
    group by touchpoint, phase
),

cells as (
    select
        journey_cells.touchpoint,
        journey_cells.phase,
        any_value(journey_cells.phase_order) as phase_order,
        any_value(journey_cells.channel_group) as channel_group,
        any_value(journey_cells.stage) as stage,
        sum(journey_cells.n_events) as n_events,
        count(*) as n_journeys,
        count(*) filter (where journey_status.is_closed) as n_closed_journeys,
        sum(journey_cells.n_scored_events) as n_scored_events,
        sum(journey_cells.n_negative_events) as n_negative_events,
        sum(journey_cells.sum_sentiment)::double / nullif(sum(journey_cells.n_scored_events), 0)
            as avg_sentiment,
        sum(journey_cells.n_csat_events) as n_csat_events,
        sum(journey_cells.sum_csat) / nullif(sum(journey_cells.n_csat_events), 0) as avg_csat
    from journey_cells
    inner join journey_status on journey_cells.journey_id = journey_status.journey_id
    group by journey_cells.touchpoint, journey_cells.phase
),

final as (
    select
        cells.touchpoint,
        cells.phase,
        cells.phase_order,
        cells.channel_group,
        cells.stage,
        cells.n_events::bigint as n_events,
        customer_cells.n_customers,
        cells.n_journeys,
        cells.n_closed_journeys,
        coalesce(exits.n_exits, 0) as n_exits,
        coalesce(exits.n_exits, 0) / nullif(cells.n_closed_journeys, 0) as exit_rate,
        cells.n_scored_events::bigint as n_scored_events,
        customer_cells.n_scored_customers,
        cells.n_negative_events::bigint as n_negative_events,
        cells.avg_sentiment,
        cells.n_negative_events / nullif(cells.n_scored_events, 0) as negative_share,
        cells.n_csat_events::bigint as n_csat_events,
        cells.avg_csat
    from cells
    inner join customer_cells
        on cells.touchpoint = customer_cells.touchpoint
        and cells.phase = customer_cells.phase
    left join exits
        on cells.touchpoint = exits.touchpoint
        and cells.phase = exits.phase
)

select * from final
order by phase_order nulls last, touchpoint, phase
