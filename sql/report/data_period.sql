-- grain: one row: the first and last event day
-- Tells the weekly charts which first week is partial (the data starts after its Monday).
select min(occurred_at)::date as first_day, max(occurred_at)::date as last_day
from marts.journey_events
