-- The event ids whose rows of $held (the analyst file's table) and $work (the working file's)
-- may differ after writes keyed by event id over the landing days of temp table publish_days:
-- the ids those days held in either. An event's kept row can move to another day (the first
-- landed copy wins), but the old or the new row is on a day written. Temp table
-- publish_event_ids, never written into the analyst file.
create or replace temp table publish_event_ids as
select event_id
from query_table($held)
where (source, _partition) in (select (d.source, d._partition) from publish_days as d)
union
select event_id
from query_table($work)
where (source, _partition) in (select (d.source, d._partition) from publish_days as d);
