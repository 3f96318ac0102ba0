-- The rows of run $run still $running are $failed at $at, with the error's message $m.
update marts.pipeline_runs
set status = $failed, finished_at = $at, message = $m
where run_id = $run and status = $running
