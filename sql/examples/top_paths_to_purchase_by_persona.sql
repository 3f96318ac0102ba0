-- Top touchpoint paths that end in a purchase, per persona (the three most common each).
select persona, path, n_journeys, n_converted, round(conversion_rate * 100, 1) as conversion_pct
from marts.journey_paths
where definition = 'all' and level = 'touchpoint' and persona <> 'all' and n_converted > 0
qualify row_number() over (partition by persona order by n_converted desc, path) <= 3
order by persona, n_converted desc, path;
