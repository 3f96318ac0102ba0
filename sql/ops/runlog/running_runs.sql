-- Runs other than $run with rows still $running.
select distinct run_id
from marts.pipeline_runs
where status = $running and run_id <> $run
order by run_id
