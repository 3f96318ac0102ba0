-- Every event of the run's customers is in staging.events and intermediate.classified_events exactly once, with a customer.
-- The nightly form of ../every_event_exactly_once.sql (transforms/checks.py runs it in an
-- incremental run, unless full checks are asked for): the events in scope are those of the
-- partitions this run loaded ($run_id) and those classified for the run's customers
-- (intermediate.dirty_customers), matched by event id on both tables.
-- offending rows: one per event and problem
with run_partitions as (
    select
        source,
        _partition
    from raw._partitions
    where run_id = $run_id
),

dirty as (
    select customer_id from intermediate.dirty_customers
),

scope_events as (
    select event_id
    from staging.events
    semi join run_partitions using (source, _partition)
    union
    select event_id
    from intermediate.classified_events
    semi join dirty using (customer_id)
),

staged as (
    select
        event_id,
        count(*) as n
    from staging.events
    semi join scope_events using (event_id)
    group by all
),

classified as (
    select
        event_id,
        count(*) as n,
        count(*) filter (where customer_id is null) as n_without_customer
    from intermediate.classified_events
    semi join scope_events using (event_id)
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
    from classified
    where n_without_customer > 0
)

select event_id, problem from matched where problem is not null
union all
select event_id, problem from without_customer
order by event_id, problem
