-- grain: one row per customer
-- depends on: marts.journey_events
-- Per customer: the first return event (as intermediate.return_weeks), the first conversion and
-- the newest event, which marts.retention needs for its cohorts and the newest week.
-- A customer's row depends on that customer's events only.
with journey_events as (
    select customer_id, persona, occurred_at, stage, touchpoint, phase, event_name, is_conversion
    from marts.journey_events
    where customer_id is not null
),

flagged as (
    select
        customer_id,
        persona,
        occurred_at,
        is_conversion,
        stage = 'front'
        and ($return_phase::varchar is null or phase = $return_phase::varchar)
        and ($return_touchpoint::varchar is null or touchpoint = $return_touchpoint::varchar)
        and ($return_event_name::varchar is null or event_name = $return_event_name::varchar) as is_return
    from journey_events
),

final as (
    select
        customer_id,
        any_value(persona) as persona,
        min(occurred_at) filter (where is_return) as first_return_at,
        min(occurred_at) filter (where is_conversion) as first_purchase_at,
        max(occurred_at) as last_event_at
    from flagged
    group by customer_id
)

select * from final
