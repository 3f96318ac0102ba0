-- The run that finished last, with the records it read, accepted, rejected and dropped as duplicates.
select
    run_id,
    max(finished_at) as finished_at,
    sum(n_read) as n_read,
    sum(n_accepted) as n_accepted,
    sum(n_rejected) as n_rejected,
    sum(n_duplicates) as n_duplicates
from marts.pipeline_runs
group by run_id
order by max(finished_at) desc
limit 1
