-- grain: one row of marts.funnel_trends
-- The weekly funnel trend chart.
select * from marts.funnel_trends order by funnel, period_start
