-- grain: one row per source and landed partition
-- depends on: intermediate.records, staging.events
-- Records read, accepted, rejected and duplicated per source and partition:
-- read = accepted + rejected + duplicates.
with records as (
    select source, kind, _partition, event_id, reason from intermediate.records
),

accepted_events as (
    select source, _partition, count(*) as n from staging.events group by all
),

accepted_profiles as (
    select source, _partition, count(*) as n
    from intermediate.records
    where kind = 'profiles' and reason is null
    group by all
),

per_partition as (
    select
        source,
        _partition,
        count(*) as n_read,
        count(reason) as n_rejected
    from records
    group by all
),

final as (
    select
        p.source,
        p._partition,
        p.n_read,
        coalesce(e.n, pr.n, 0) as n_accepted,
        p.n_rejected,
        p.n_read - p.n_rejected - coalesce(e.n, pr.n, 0) as n_duplicates
    from per_partition as p
    left join accepted_events as e on p.source = e.source and p._partition = e._partition
    left join accepted_profiles as pr on p.source = pr.source and p._partition = pr._partition
)

select * from final
