-- grain: one row per funnel and unit that entered it
select * from funnel_attempt_rows
order by funnel, unit_id
