-- Every event of intermediate.classified_events (hence of staging.events) is in marts.journey_events exactly once.
-- nightly: by_customer (in an incremental run, each table it reads is kept to the run's customers)
-- offending rows: (event_id, times upstream, times in marts.journey_events). A cheap pass
-- first: equal row counts, equal sums of the event ids' hashes (a multiset fingerprint) and
-- no event id twice mean every event is there once. Only when it fails does
-- `quick_pass_failed` hold a row; the event-by-event match starts by joining it, so while it
-- is empty DuckDB stops those scans at their first chunk.
with upstream_summary as (
    select
        count(*) as n_events,
        sum(hash(event_id)::hugeint) as fingerprint
    from intermediate.classified_events
),

journey_summary as (
    select
        count(*) as n_events,
        sum(hash(event_id)::hugeint) as fingerprint
    from marts.journey_events
),

repeated_once as (
    select event_id
    from marts.journey_events
    group by event_id
    having count(*) > 1
    limit 1
),

quick_pass_failed as (
    select true as failed
    from upstream_summary as u
    cross join journey_summary as j
    where u.n_events <> j.n_events
        or u.fingerprint is distinct from j.fingerprint
        or exists (from repeated_once)
),

upstream as (
    select
        c.event_id,
        count(*) as n
    from quick_pass_failed
    cross join intermediate.classified_events as c
    group by all
),

journey as (
    select
        e.event_id,
        count(*) as n
    from quick_pass_failed
    cross join marts.journey_events as e
    group by all
)

select
    coalesce(u.event_id, j.event_id) as event_id,
    coalesce(u.n, 0) as n_upstream,
    coalesce(j.n, 0) as n_in_journey_events
from upstream as u
full outer join journey as j on u.event_id = j.event_id
where coalesce(u.n, 0) <> 1 or coalesce(j.n, 0) <> 1
order by event_id
