-- Every row of run $run is $ok (the run has published), finished at $at.
update marts.pipeline_runs
set status = $ok, finished_at = $at, message = null
where run_id = $run
