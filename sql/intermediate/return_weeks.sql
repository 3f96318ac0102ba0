-- grain: one row per customer, persona and week (Monday, UTC) with a return event
-- depends on: marts.journey_events
-- The weeks in which each customer did the return event (a front-stage event matching
-- settings.retention: phase, touchpoint, event name; unset = any), as marts.retention and
-- marts.lifecycle count them. A customer's rows depend on that customer's events only.
with journey_events as (
    select customer_id, persona, occurred_at, stage, touchpoint, phase, event_name
    from marts.journey_events
    where customer_id is not null
),

final as (
    select distinct
        customer_id,
        persona,
        date_trunc('week', occurred_at)::date as week
    from journey_events
    where
        stage = 'front'
        and ($return_phase::varchar is null or phase = $return_phase::varchar)
        and ($return_touchpoint::varchar is null or touchpoint = $return_touchpoint::varchar)
        and ($return_event_name::varchar is null or event_name = $return_event_name::varchar)
)

select * from final
