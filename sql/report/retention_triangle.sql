-- The retention triangle of one persona ($persona, 'all' for everyone): one row per cohort week
-- and week since, in order, from marts.retention.
select
    cohort,
    period,
    n_customers,
    n_retained,
    rate,
    period_complete
from marts.retention
where persona = $persona
order by cohort, period
