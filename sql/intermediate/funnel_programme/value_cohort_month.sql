-- breakdown cohort_month: the month (YYYY-MM) of the customer's first event
insert into funnel_value_rows
with firsts as (
    select customer_id, strftime(min(occurred_at), '%Y-%m') as value
    from funnel_journey_events
    where customer_id in (select customer_id from funnel_counted_attempts)
    group by customer_id
)

select $funnel as funnel, a.unit_id, a.customer_id, $breakdown as breakdown, coalesce(v.value, $none) as breakdown_value
from funnel_counted_attempts as a
left join firsts as v on a.customer_id = v.customer_id;
