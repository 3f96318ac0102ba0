-- A `running` row for each of $days of source $s that run $run has just loaded, with the
-- records read (the ledger raw._partitions, written in the same load); replaces that run's rows.
delete from marts.pipeline_runs
where run_id = $run and source = $s and _partition in (select unnest($days::date[]));

insert into marts.pipeline_runs
with loaded as (
    select unnest($days::date[]) as _partition
),

records as (
    select
        _partition,
        n_lines as n_read
    from raw._partitions
    where source = $s and _partition in (select l._partition from loaded as l)
)

select
    $run as run_id,
    $s as source,
    l._partition,
    coalesce(r.n_read, 0) as n_read,
    null as n_accepted,
    null as n_rejected,
    null as n_duplicates,
    $started as started_at,
    null as finished_at,
    $status as status,
    null as message
from loaded as l
left join records as r on l._partition = r._partition;
