-- the touchpoint sets of converting journeys, for the Shapley values
select
    touchpoints,
    n_conversions,
    revenue
from intermediate.attribution_touch_sets
order by touchpoints;
