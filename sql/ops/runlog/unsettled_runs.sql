-- Runs other than $run that stopped without settling: rows still $running, or partitions in
-- raw._partitions loaded by a run that has no row for them.
select run_id
from marts.pipeline_runs
where status = $running and run_id <> $run
union
select coalesce(p.run_id, '') as run_id
from raw._partitions as p
anti join marts.pipeline_runs as r
    on
        coalesce(p.run_id, '') = r.run_id
        and p.source = r.source
        and p._partition = r._partition
where coalesce(p.run_id, '') <> $run
order by run_id
