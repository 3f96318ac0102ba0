-- How long converting journeys take, by the touchpoint they started at.
select first_touchpoint, count(*) as n_converted,
       round(median(duration_seconds) / 86400, 1) as median_days,
       round(quantile_cont(duration_seconds, 0.9) / 86400, 1) as p90_days
from marts.journeys
where converted
group by first_touchpoint
order by n_converted desc;
