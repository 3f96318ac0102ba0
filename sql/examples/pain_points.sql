-- The ranked pain points, ready for a slide.
select rank, kind, touchpoint, phase, n_customers, round(rate * 100, 1) as rate_pct,
       round(baseline_rate * 100, 1) as baseline_pct, label
from marts.pain_points
order by rank;
