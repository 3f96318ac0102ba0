-- grain: one row per funnel, unit and ISO week in which the unit started an attempt
select * from funnel_period_rows
order by funnel, unit_id, period_start
