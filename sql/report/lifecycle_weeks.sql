-- The lifecycle chart of one persona ($persona, 'all' for everyone): one row per week, the four
-- statuses side by side; dormant is negative, drawn below the axis as PostHog does.
select
    period_start,
    sum(n_customers) filter (where status = 'new') as n_new,
    sum(n_customers) filter (where status = 'returning') as n_returning,
    sum(n_customers) filter (where status = 'resurrecting') as n_resurrecting,
    -sum(n_customers) filter (where status = 'dormant') as n_dormant
from marts.lifecycle
where persona = $persona
group by period_start
order by period_start
