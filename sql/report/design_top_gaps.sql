-- The top $top_gaps gaps of each design (marts.design_gaps), worst first, with their sentence.
select
    design,
    rank,
    kind,
    location,
    n_customers,
    n_customers_in_design,
    share_of_customers,
    conversion_rate_deviating,
    conversion_rate_following,
    conversion_gap,
    median_seconds_to_convert_deviating,
    median_seconds_to_convert_following,
    label
from marts.design_gaps
where rank <= $top_gaps
order by design, rank
