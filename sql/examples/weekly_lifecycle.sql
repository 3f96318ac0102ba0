-- New, returning, resurrecting and dormant customers per week, by persona (PostHog's lifecycle).
select period_start, persona,
       sum(n_customers) filter (where status = 'new') as n_new,
       sum(n_customers) filter (where status = 'returning') as n_returning,
       sum(n_customers) filter (where status = 'resurrecting') as n_resurrecting,
       -sum(n_customers) filter (where status = 'dormant') as n_dormant
from marts.lifecycle
group by period_start, persona
order by persona, period_start;
