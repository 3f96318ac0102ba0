-- grain: one row per journey, customer and cell (touchpoint x phase) of the journey map
-- depends on: marts.journey_events
-- What marts.touchpoint_health sums: each journey's events in each cell, pre-aggregated, with
-- whether the cell holds the journey's last event. Rows of one customer depend on that
-- customer's events only, so a nightly run rebuilds the dirty customers' rows; the statuses
-- that depend on the newest event (is a journey closed) are decided in the mart.
with journey_events as (
    select
        journey_id,
        customer_id,
        step_index,
        occurred_at,
        touchpoint,
        phase,
        phase_order,
        channel_group,
        stage,
        sentiment,
        csat
    from marts.journey_events
),

last_cells as (
    select
        journey_id,
        arg_max(touchpoint, step_index) as touchpoint,
        arg_max(phase, step_index) as phase
    from journey_events
    where journey_id is not null
    group by journey_id
),

cells as (
    select
        touchpoint,
        phase,
        journey_id,
        customer_id,
        any_value(phase_order) as phase_order,
        any_value(channel_group) as channel_group,
        any_value(stage) as stage,
        count(*) as n_events,
        count(sentiment) as n_scored_events,
        count(*) filter (where sentiment < -0.05) as n_negative_events,
        -- exact (a decimal, not rounded when stored), so the mart's mean is the mean of the events
        sum(sentiment::decimal(38, 24)) as sum_sentiment,
        count(csat) as n_csat_events,
        sum(csat) as sum_csat,
        max(occurred_at) as last_event_at
    from journey_events
    group by touchpoint, phase, journey_id, customer_id
),

final as (
    select
        cells.*,
        last_cells.journey_id is not null as is_last_cell
    from cells
    left join last_cells
        on cells.journey_id = last_cells.journey_id
        and cells.touchpoint = last_cells.touchpoint
        and cells.phase = last_cells.phase
)

select * from final
