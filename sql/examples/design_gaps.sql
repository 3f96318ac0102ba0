-- Where each designed journey (designs.yaml) breaks, worst first, ready for a slide.
select design, rank, kind, location, n_customers, round(100 * share_of_customers) as pct_customers,
       round(100 * conversion_gap) as conversion_gap_pts, label
from marts.design_gaps
where rank <= 3
order by design, rank;
