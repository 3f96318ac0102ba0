-- Every partition in raw._partitions without a row for the run that loaded it gets one,
-- $running, with the lines read.
insert into marts.pipeline_runs
select
    coalesce(p.run_id, '') as run_id,
    p.source,
    p._partition,
    p.n_lines as n_read,
    null as n_accepted,
    null as n_rejected,
    null as n_duplicates,
    p.started_at,
    null as finished_at,
    $running as status,
    null as message
from raw._partitions as p
anti join marts.pipeline_runs as r
    on
        coalesce(p.run_id, '') = r.run_id
        and p.source = r.source
        and p._partition = r._partition
