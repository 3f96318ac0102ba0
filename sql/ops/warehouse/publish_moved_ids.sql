-- The event ids of $held (the analyst file's staging.events) and $work (the working file's)
-- whose row may lie on a landing day of temp table publish_days on one side and on another day
-- on the other: a publish by day replaces the rows of the days, and these ids' rows by event id
-- as well. An event's kept row is its first landed copy, so it moves to another day when a day
-- written gains an earlier copy or loses its copy. Such an id is
--  * on the days in $held but not in $work (its working row, if any, is on another day), or
--  * on the days in $work but not in $held, with another landed copy on a day not written: a
--    day not written since holds the lines it held, so an id whose held row was on such a day
--    still has that copy there, now in the working file's intermediate.duplicate_events.
-- The common night (a new day: nothing moved) finds none, and reads only the days' row groups
-- ($first, $last bound the days, so the scans skip the others by their min/max). Temp table
-- publish_moved_ids, never written into the analyst file; returns how many.
create or replace temp table publish_held_day_ids as
select event_id
from query_table($held)
where
    _partition between $first and $last
    and (source, _partition) in (select (d.source, d._partition) from publish_days as d);

create or replace temp table publish_work_day_ids as
select event_id
from query_table($work)
where
    _partition between $first and $last
    and (source, _partition) in (select (d.source, d._partition) from publish_days as d);

create or replace temp table publish_moved_ids as
select event_id from (
    select event_id from publish_held_day_ids
    except
    select event_id from publish_work_day_ids
)
union
select event_id from (
    select event_id from publish_work_day_ids
    except
    select event_id from publish_held_day_ids
)
semi join (
    select e.event_id
    from work.intermediate.duplicate_events as e
    anti join publish_days as d on e.source = d.source and e._partition = d._partition
) using (event_id);

drop table publish_held_day_ids;

drop table publish_work_day_ids;

select count(*) from publish_moved_ids;
