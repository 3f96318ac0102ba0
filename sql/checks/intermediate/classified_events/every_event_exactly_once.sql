-- Every event of staging.events is in intermediate.classified_events exactly once, with a customer.
-- nightly: by_customer ($nightly: an incremental run, which rebuilt the rows of its customers)
-- offending rows: one per event and problem. A cheap pass first: equal row counts, equal sums
-- of the event ids' hashes (a multiset fingerprint) and no event id twice mean every event is
-- there once. Only when it fails does `quick_pass_failed` hold a row; the event-by-event match
-- starts by joining it, so while it is empty DuckDB stops those scans at their first chunk.
-- A night adds its partitions' events to staging.events and rebuilds its customers' rows
-- (intermediate.dirty_customers), so its cheap pass still counts and hashes both tables whole
-- (narrow scans) but looks for an event id twice only among the rows it rebuilt, not in the
-- history (the costly part); when that pass fails, the match runs over both tables whole.
with staged_summary as (
    select
        count(*) as n_events,
        sum(hash(event_id)::hugeint) as fingerprint
    from staging.events
),

classified_summary as (
    select
        count(*) as n_events,
        sum(hash(event_id)::hugeint) as fingerprint
    from intermediate.classified_events
),

repeated_once as (
    select event_id
    from intermediate.classified_events
    where not $nightly or customer_id in (select customer_id from intermediate.dirty_customers)
    group by event_id
    having count(*) > 1
    limit 1
),

quick_pass_failed as (
    select true as failed
    from staged_summary as s
    cross join classified_summary as c
    where s.n_events <> c.n_events
        or s.fingerprint is distinct from c.fingerprint
        or exists (from repeated_once)
),

staged as (
    select
        s.event_id,
        count(*) as n
    from quick_pass_failed
    cross join staging.events as s
    group by all
),

classified as (
    select
        c.event_id,
        count(*) as n
    from quick_pass_failed
    cross join intermediate.classified_events as c
    group by all
),

matched as (
    select
        coalesce(s.event_id, c.event_id) as event_id,
        case
            when c.event_id is null then 'missing from intermediate.classified_events'
            when s.event_id is null then 'not in staging.events'
            when c.n > 1 then 'more than once in intermediate.classified_events'
        end as problem
    from staged as s
    full outer join classified as c on s.event_id = c.event_id
),

without_customer as (
    select
        event_id,
        'without a customer' as problem
    from intermediate.classified_events
    where customer_id is null
)

select event_id, problem from matched where problem is not null
union all
select event_id, problem from without_customer
order by event_id, problem
