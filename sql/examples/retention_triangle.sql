-- The retention triangle: per cohort week, the share of customers who come back each week since.
select cohort, n_customers,
       list(round(100 * rate) order by period) as pct_retained_by_week
from marts.retention
where persona = 'all'
group by cohort, n_customers
order by cohort;
