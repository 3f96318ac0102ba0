-- grain: one row per funnel, unit and breakdown
select * from funnel_value_rows
order by funnel, unit_id, breakdown
