-- The rows of the current load of each partition get the counts staged from it: this run's
-- ($run) rows, and those still without counts (a stopped run whose partitions this run staged).
update marts.pipeline_runs as r
set
    n_read = c.n_read,
    n_accepted = c.n_accepted,
    n_rejected = c.n_rejected,
    n_duplicates = c.n_duplicates
from (
    select
        p.source,
        p._partition,
        coalesce(p.run_id, '') as run_id,
        coalesce(c.n_read, 0) as n_read,
        coalesce(c.n_accepted, 0) as n_accepted,
        coalesce(c.n_rejected, 0) as n_rejected,
        coalesce(c.n_duplicates, 0) as n_duplicates
    from raw._partitions as p
    left join intermediate.partition_counts as c using (source, _partition)
) as c
where
    r.source = c.source
    and r._partition = c._partition
    and r.run_id = c.run_id
    and (r.run_id = $run or r.n_accepted is null)
