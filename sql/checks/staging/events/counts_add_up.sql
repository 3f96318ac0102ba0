-- For every loaded partition, records read = accepted + rejected + duplicates, each counted on its own table, and its marts.pipeline_runs row is there, agrees with the records loaded and adds up.
-- offending rows: (source, partition, run id of its current load, what does not add up)
-- Read is the loader's line count in raw._partitions (written with the raw rows, in one
-- transaction); accepted, rejected and duplicates are counted on staging.events (and
-- intermediate.profile_versions), quarantine.rejected and intermediate.duplicate_events. A partition
-- missing from one table counts 0 there, so rows staged or quarantined from no landed line show.
-- nightly: by_partition ($nightly: a run that loads landing days)
-- A night counts only the partitions whose current load is its own ($run_id), and those whose
-- current load has no run-log row with its counts yet (a stopped run's, staged by this one), so
-- it reads its own partitions, not the history.
with ledger as (
    select
        source,
        _partition,
        run_id,
        n_lines
    from raw._partitions as p
    where not $nightly
        or run_id = $run_id
        or not exists (
            select 1
            from marts.pipeline_runs as r
            where r.run_id = coalesce(p.run_id, '')
                and r.source = p.source
                and r._partition = p._partition
                and r.n_accepted is not null
        )
),

raw_counts as (
    select
        source,
        _partition,
        n_lines as n
    from ledger
),

accepted as (
    select
        source,
        _partition,
        count(*) as n
    from staging.events
    where not $nightly or (source, _partition) in (select source, _partition from ledger)
    group by all
    union all
    select
        source,
        _partition,
        count(*) as n
    from intermediate.profile_versions
    where not $nightly or (source, _partition) in (select source, _partition from ledger)
    group by all
),

rejected as (
    select
        source,
        _partition,
        count(*) as n
    from quarantine.rejected
    where not $nightly or (source, _partition) in (select source, _partition from ledger)
    group by all
),

duplicates as (
    select
        source,
        _partition,
        count(*) as n
    from intermediate.duplicate_events
    where not $nightly or (source, _partition) in (select source, _partition from ledger)
    group by all
),

table_counts as (
    select
        source,
        _partition,
        l.run_id,
        coalesce(l.n_lines, 0) as n_read,
        coalesce(a.n, 0) as n_accepted,
        coalesce(q.n, 0) as n_rejected,
        coalesce(d.n, 0) as n_duplicates
    from ledger as l
    full join accepted as a using (source, _partition)
    full join rejected as q using (source, _partition)
    full join duplicates as d using (source, _partition)
),

tables_not_adding_up as (
    select
        source,
        _partition,
        run_id,
        'counted on the tables: read ' || n_read || ' <> accepted ' || n_accepted
        || ' + rejected ' || n_rejected || ' + duplicates ' || n_duplicates as problem
    from table_counts
    where n_read <> n_accepted + n_rejected + n_duplicates
),

run_log_gaps as (
    select
        p.source,
        p._partition,
        p.run_id,
        case
            when r.run_id is null then 'no marts.pipeline_runs row'
            when
                r.n_accepted is null or r.n_rejected is null or r.n_duplicates is null
                then 'counts not recorded'
            when
                r.n_read <> coalesce(c.n, 0)
                then 'n_read ' || r.n_read || ' but ' || coalesce(c.n, 0) || ' records loaded'
            when r.n_read <> r.n_accepted + r.n_rejected + r.n_duplicates
                then
                    'read ' || r.n_read || ' <> accepted ' || r.n_accepted || ' + rejected '
                    || r.n_rejected || ' + duplicates ' || r.n_duplicates
        end as problem
    from ledger as p
    left join marts.pipeline_runs as r
        on
            coalesce(p.run_id, '') = r.run_id
            and p.source = r.source
            and p._partition = r._partition
    left join raw_counts as c on p.source = c.source and p._partition = c._partition
    where problem is not null
)

select * from tables_not_adding_up
union all
select * from run_log_gaps
order by all
