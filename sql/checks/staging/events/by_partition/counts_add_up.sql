-- For every partition this run loaded, records read = accepted + rejected + duplicates, each counted on its own table, and its marts.pipeline_runs row is there, agrees with the records loaded and adds up.
-- The nightly form of ../counts_add_up.sql (transforms/checks.py runs it in a run that loads
-- landing days, unless full checks are asked for): only the partitions whose current load is
-- this run's ($run_id), and those whose current load has no run-log row with its counts yet (a
-- stopped run's, staged by this one), are counted, so a night reads its own partitions, not
-- the history.
-- offending rows: (source, partition, run id of its current load, what does not add up)
with ledger as (
    select
        source,
        _partition,
        run_id,
        n_lines
    from raw._partitions as p
    where run_id = $run_id
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
    semi join ledger using (source, _partition)
    group by all
    union all
    select
        source,
        _partition,
        count(*) as n
    from intermediate.profile_versions
    semi join ledger using (source, _partition)
    group by all
),

rejected as (
    select
        source,
        _partition,
        count(*) as n
    from quarantine.rejected
    semi join ledger using (source, _partition)
    group by all
),

duplicates as (
    select
        source,
        _partition,
        count(*) as n
    from intermediate.duplicate_events
    semi join ledger using (source, _partition)
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
    left join accepted as a using (source, _partition)
    left join rejected as q using (source, _partition)
    left join duplicates as d using (source, _partition)
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
