-- grain: one row: the sessions of marts.sessions in numbers
-- The sessions view's headline: sessions, customers, events and duration per session, conversion.
select
    count(*) as n_sessions,
    count(distinct customer_id) as n_customers,
    avg(n_events) as avg_events,
    median(duration_seconds) as median_seconds,
    avg(case when n_events = 1 then 1.0 else 0.0 end) as bounce_rate,
    avg(converted::integer) as conversion_rate
from marts.sessions
