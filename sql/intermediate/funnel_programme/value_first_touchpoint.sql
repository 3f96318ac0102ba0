-- breakdown first_touchpoint: the touchpoint of the unit's first classified event.
-- (journey_number, step_index) numbers a customer's events in (occurred_at, source_rank, event_id)
-- order, so one integer key finds the first event
insert into funnel_value_rows
with units as (
    select
        case when $unit = 'customer' then customer_id else journey_id end as unit_id,
        touchpoint,
        journey_number::bigint * 4294967296 + step_index as event_order
    from funnel_journey_events
    where touchpoint <> 'unclassified'
),

firsts as (
    select unit_id, arg_min(touchpoint, event_order) as value
    from units
    where unit_id in (select unit_id from funnel_counted_attempts)
    group by unit_id
)

select $funnel as funnel, a.unit_id, a.customer_id, $breakdown as breakdown, coalesce(v.value, $none) as breakdown_value
from funnel_counted_attempts as a
left join firsts as v on a.unit_id = v.unit_id;
