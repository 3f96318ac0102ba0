-- grain: one row per source and landed partition
-- depends on: intermediate.duplicate_events, intermediate.profile_versions, quarantine.rejected,
--             raw._partitions, staging.events
-- Records read (the load ledger), accepted, rejected and duplicated per source and partition,
-- each counted on its own table: read = accepted + rejected + duplicates.
with ledger as (
    select source, _partition, n_lines from raw._partitions
),

accepted as (
    select source, _partition, count(*) as n from staging.events group by all
    union all
    select source, _partition, count(*) as n from intermediate.profile_versions group by all
),

rejected as (
    select source, _partition, count(*) as n from quarantine.rejected group by all
),

duplicates as (
    select source, _partition, count(*) as n from intermediate.duplicate_events group by all
),

final as (
    select
        source,
        _partition,
        coalesce(l.n_lines, 0) as n_read,
        coalesce(a.n, 0) as n_accepted,
        coalesce(q.n, 0) as n_rejected,
        coalesce(d.n, 0) as n_duplicates
    from ledger as l
    full join accepted as a using (source, _partition)
    full join rejected as q using (source, _partition)
    full join duplicates as d using (source, _partition)
)

select * from final
