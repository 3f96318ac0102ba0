-- grain: one row per funnel, breakdown, breakdown value and step
-- Funnel drop-off for the funnel charts, their breakdown tables and the map's phase funnel.
select
    funnel,
    breakdown,
    breakdown_value,
    step_index,
    step_name,
    entered,
    reached_next,
    dropped,
    in_window,
    dropoff_rate,
    conversion_from_start,
    median_seconds_to_next
from marts.funnel_dropoff
order by funnel, breakdown, breakdown_value, step_index
