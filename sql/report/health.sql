-- grain: one row per touchpoint and phase, the $max_rows with the most customers
-- The touchpoint health table.
select touchpoint, phase, n_events, n_customers, exit_rate, avg_sentiment, negative_share, avg_csat
from marts.touchpoint_health
order by n_customers desc, touchpoint, phase
limit $max_rows
