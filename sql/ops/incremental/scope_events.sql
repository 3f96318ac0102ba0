-- The run's events in scope (intermediate._scope_events, after dirty_customers.sql; temp tables
-- of dirty_events.sql): the ids of a superset of the events of the run's customers, by which the
-- models incremental by customer read staging.events, the one input that carries no customer
-- (transforms/warehouse.py, RELATION_SCOPES). Their outer filter keeps the run's customers' rows,
-- so only a missing event would matter, and none is missing: an event of a run's customer is
--  * staged from a day this run loaded (temp table staged_now); or
--  * held by the previous build (marts.journey_events, one row per event) under its customer
--    then: the same customer, or one identity moved its set from (both customers of a move are
--    in the dirty set: dirty_moves.sql, or the copies' comparison); a customer of the dirty set
--    either way. An event staged from a day not loaded that the previous build did not hold is
--    one whose earlier copy a reloaded day removed: held before from that day (held_before);
--  * or, with $keep_previous (the previous run did not finish: its dirty set is kept), staged
--    by the loads of that run: in its events in scope, kept too.
-- Reads the customer and event_id columns of the previous build, never every event's identifiers.
create table if not exists intermediate._scope_events (event_id varchar);

create or replace temp table scope_events_now as
select event_id from staged_now
union
select event_id from held_before
union
select event_id
from marts.journey_events
semi join intermediate.dirty_customers using (customer_id)
union
select event_id from intermediate._scope_events where $keep_previous;

create or replace table intermediate._scope_events as
select event_id from scope_events_now;

drop table scope_events_now;
