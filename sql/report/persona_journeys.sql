-- grain: one row per persona, plus 'all'
-- Journeys, conversions and revenue per persona for the journey map's tabs.
select
    case when grouping(persona) = 1 then 'all' else coalesce(persona, 'unknown') end as persona_key,
    count(*) as n_journeys,
    count(*) filter (where converted) as n_conversions,
    coalesce(sum(revenue), 0) as revenue
from marts.journeys
group by grouping sets ((persona), ())
