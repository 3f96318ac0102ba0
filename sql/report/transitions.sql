-- grain: one row per touchpoint transition, the 12 most frequent
-- The table of most frequent touchpoint transitions beside the Sankey.
select from_touchpoint, to_touchpoint, n, probability, median_seconds
from marts.touchpoint_transitions
order by n desc, from_touchpoint, to_touchpoint
limit 12
