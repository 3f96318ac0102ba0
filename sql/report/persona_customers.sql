-- grain: one row per persona, plus 'all'
-- Customers per persona for the journey map's tabs.
select
    case when grouping(persona) = 1 then 'all' else coalesce(persona, 'unknown') end as persona_key,
    count(*) as n_customers
from marts.customers
group by grouping sets ((persona), ())
