-- breakdown on a column of marts.journey_events ($breakdown, checked to be one): its value on the
-- counted attempt's events, first-touch (first non-null step), last-touch or at step $step
insert into funnel_value_rows
with event_values as (
    select
        event_id as value_event_id,
        columns(lambda c: c = $breakdown)::varchar as v
    from funnel_journey_events
),

step_values as (
    select c.unit_id, c.step, e.v
    from funnel_chain as c
    inner join event_values as e on c.event_id = e.value_event_id
    where e.v is not null
),

unit_values as (
    select
        unit_id,
        case $attribution
            when 'first_touch' then arg_min(v, step)
            when 'last_touch' then arg_max(v, step)
            else max(v) filter (where step = $step)
        end as value
    from step_values
    group by unit_id
)

select $funnel as funnel, a.unit_id, a.customer_id, $breakdown as breakdown, coalesce(v.value, $none) as breakdown_value
from funnel_counted_attempts as a
left join unit_values as v on a.unit_id = v.unit_id;
