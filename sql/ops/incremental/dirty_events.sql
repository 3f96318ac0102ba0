-- The run's dirty set, first part (transforms/incremental.py start_run; temp table found): the
-- old and the new customer of every event whose staged copy the loads of this run may have
-- changed, with $keep_previous the customers of a run that did not finish. A load replaces whole
-- landing days (temp table loaded_partitions: those loaded since $since), and an event's staged
-- copy is its first landed one, so an event changes only
--  * when it is staged from a loaded day now: its customer now (temp table staged_now), and, if
--    another day's copy was staged before and lost to it (that copy is a duplicate now), that
--    copy's customer before;
--  * when the previous build held it from a loaded day (marts.journey_events, one row per
--    event; temp table held_before): its customer before, and, if it is staged from another
--    day now, that copy's customer now.
-- An event that lost to a copy staged on a day not loaded changed nothing. The lookups by event
-- id outside the loaded days run for those rare events only (none, on a night that adds days),
-- so the history is read by day, not by event id. A null customer_id row says an event with no
-- customer was touched (the runner then builds in full).
create or replace temp table loaded_partitions as
select source, _partition
from raw._partitions
where $since::timestamp is null or loaded_at > $since::timestamp;

-- (the filter on _partition alone lets the scan skip the other days)
create or replace temp table staged_now as
select event_id, identifiers::varchar as identifier_set
from staging.events
semi join loaded_partitions using (source, _partition)
where _partition in (select _partition from loaded_partitions);

create or replace temp table held_before as
select event_id, customer_id
from marts.journey_events
semi join loaded_partitions using (source, _partition);

create or replace temp table found as
with sets_now as (
    select identifier_set from staged_now
    union all
    select e.identifiers::varchar as identifier_set
    from staging.events as e
    semi join (select event_id from held_before anti join staged_now using (event_id)) using (event_id)
),

-- their customers, read from the sets the events name only (a left join would hash every set)
sets_found as (
    select identifier_set, customer_id
    from intermediate.identifier_sets
    semi join sets_now using (identifier_set)
)

select s.customer_id
from sets_now as n
left join sets_found as s using (identifier_set)
union
select customer_id from held_before
union
select j.customer_id
from marts.journey_events as j
semi join (
    select event_id from intermediate.duplicate_events
    semi join staged_now using (event_id)
    anti join loaded_partitions using (source, _partition)
) using (event_id)
union
select customer_id from intermediate.dirty_customers where $keep_previous;
