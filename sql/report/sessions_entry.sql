-- grain: one row per entry touchpoint of marts.sessions, busiest first (at most $max_entries)
-- How visits begin: sessions per entry touchpoint, their events, duration and conversion.
select
    entry_touchpoint,
    count(*) as n_sessions,
    count(distinct customer_id) as n_customers,
    avg(n_events) as avg_events,
    median(duration_seconds) as median_seconds,
    avg(case when n_events = 1 then 1.0 else 0.0 end) as bounce_rate,
    avg(converted::integer) as conversion_rate,
    mode(landing_page) as top_landing_page
from marts.sessions
group by entry_touchpoint
order by n_sessions desc, entry_touchpoint
limit $max_entries
