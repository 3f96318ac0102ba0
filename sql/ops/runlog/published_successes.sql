-- Those of $runs that this (analyst) file shows as $ok, with their finish time.
select
    run_id,
    max(finished_at) as finished_at
from marts.pipeline_runs
where status = $ok and run_id in (select unnest($runs::varchar[]))
group by all
