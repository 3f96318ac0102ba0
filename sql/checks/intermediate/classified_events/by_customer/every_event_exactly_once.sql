-- Every event of staging.events is in intermediate.classified_events exactly once, with a customer; no event id twice among the run's customers' rows.
-- The nightly form of ../every_event_exactly_once.sql (transforms/checks.py runs it in an
-- incremental run, unless full checks are asked for). A night adds the events of the partitions
-- it loads to staging.events and rebuilds the rows of its customers (intermediate.dirty_customers)
-- in intermediate.classified_events, so the cheap pass of the full check holds over both tables
-- whole (equal row counts, equal sums of the event ids' hashes, none without a customer: narrow
-- scans) but looks for an event id twice only among the rows the night rebuilt, not in the
-- history (the full check's costly part). When it fails, the event-by-event match runs over both
-- tables whole, as in the full check.
-- offending rows: one per event and problem
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
    semi join intermediate.dirty_customers using (customer_id)
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
