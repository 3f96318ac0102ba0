-- grain: one row
-- Header numbers from the journeys: journeys, conversions, revenue and their period.
select
    count(*) as n_journeys,
    count(*) filter (where converted) as n_conversions,
    sum(revenue) as revenue,
    min(started_at) as journeys_first_at,
    max(ended_at) as journeys_last_at
from marts.journeys
