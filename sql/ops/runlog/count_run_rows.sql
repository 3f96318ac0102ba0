-- The rows of run $run.
select count(*) as n
from marts.pipeline_runs
where run_id = $run
