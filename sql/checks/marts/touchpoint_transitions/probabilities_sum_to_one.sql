-- Transition probabilities out of each from_touchpoint sum to 1 (within $tolerance).
-- offending rows: (from_touchpoint, sum of its probabilities)
select
    from_touchpoint,
    sum(probability) as total_probability
from marts.touchpoint_transitions
group by from_touchpoint
having abs(sum(probability) - 1) > $tolerance
order by from_touchpoint
