-- The `also_updates` statements of marts.funnel_customers (its .yaml): run by a nightly build,
-- once the rows of the run's customers are rebuilt (transforms/warehouse.py, replace_scope).
-- The status of every other unit's row was decided against the as_of of an earlier run, and
-- as_of (intermediate.funnel_definitions: the newest event of all customers) moves every night.
-- A unit not converted is 'in_window' while its attempt's open_until_at is after as_of, else
-- 'dropped' (../funnel_customers.sql), so only those two can swap: a row 'in_window' whose
-- window closed by the new as_of, and, as_of gone back (events removed from a landing day), a
-- row 'dropped' whose window ends after it (open again unless its attempt can never be:
-- open_until_at null). Those rows get the status a full build gives them; their customers go to
-- temp table scope_extra, so that publish replaces their rows too.
create or replace temp table funnel_as_of_moved as
with funnel_customers as (
    select funnel, unit_id, customer_id, status, window_end_at
    from marts.funnel_customers
    where status <> 'converted'
),

funnel_definitions as (
    select funnel, as_of from intermediate.funnel_definitions
),

attempts as (
    select funnel, unit_id, open_until_at from intermediate.funnel_attempts
),

-- the rows whose status may have moved with as_of: a window still open at the old as_of, or one
-- that ends after the new as_of
candidates as (
    select
        funnel_customers.funnel,
        funnel_customers.unit_id,
        funnel_customers.customer_id,
        funnel_customers.status,
        funnel_definitions.as_of
    from funnel_customers
    inner join funnel_definitions on funnel_customers.funnel = funnel_definitions.funnel
    where
        funnel_customers.status = 'in_window'
        or funnel_customers.window_end_at > funnel_definitions.as_of
),

final as (
    select
        candidates.funnel,
        candidates.unit_id,
        candidates.customer_id,
        candidates.status as stored_status,
        case when attempts.open_until_at > candidates.as_of then 'in_window' else 'dropped' end as status
    from candidates
    inner join attempts on candidates.funnel = attempts.funnel and candidates.unit_id = attempts.unit_id
)

select funnel, unit_id, customer_id, status from final
where status <> stored_status;

update marts.funnel_customers
set status = funnel_as_of_moved.status
from funnel_as_of_moved
where
    marts.funnel_customers.funnel = funnel_as_of_moved.funnel
    and marts.funnel_customers.unit_id = funnel_as_of_moved.unit_id;

insert into scope_extra
select distinct customer_id from funnel_as_of_moved;

drop table funnel_as_of_moved;
