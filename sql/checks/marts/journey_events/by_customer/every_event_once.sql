-- Every event of the run's customers in intermediate.classified_events is in marts.journey_events exactly once.
-- The nightly form of ../every_event_once.sql (transforms/checks.py runs it in an incremental
-- run, unless full checks are asked for): only the rows of the run's customers
-- (intermediate.dirty_customers) are matched, on both tables.
-- offending rows: (event_id, times upstream, times in marts.journey_events)
with dirty as (
    select customer_id from intermediate.dirty_customers
),

upstream as (
    select
        event_id,
        count(*) as n
    from intermediate.classified_events
    semi join dirty using (customer_id)
    group by all
),

journey as (
    select
        event_id,
        count(*) as n
    from marts.journey_events
    semi join dirty using (customer_id)
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
