-- grain: one row per week (Monday, UTC) of session start
-- Sessions per week and the share that converted, for the sessions view's line.
select
    date_trunc('week', started_at)::date as period_start,
    count(*) as n_sessions,
    avg(converted::integer) as conversion_rate
from marts.sessions
group by period_start
order by period_start
