-- File one parsed batch (temp table `parsed`, sql/ingest/parse.sql) of source $source, landing
-- days $days: accepted events into staging.events (the first landed copy of an event_id wins:
-- earliest partition, then file, then line) and the copies that lose into
-- intermediate.duplicate_events; rejected records into quarantine.rejected; accepted profile
-- records into intermediate.profile_versions. The batch's days are replaced whole. Only the
-- event ids the batch holds (now or before) are decided again, so the tables equal a full
-- rebuild from every landed line. Runs inside the load's transaction.

-- accepted events of the batch, shaped as staging.events: a view over `parsed` (no copy of
-- every event; each statement below reads only the columns it needs)
create or replace temp view batch_events as
select
    event_id,
    source,
    record_id as source_event_id,
    event_name,
    occurred_at,
    identifiers,
    url,
    -- the path: after the authority, a '/' and what follows up to '?' or '#' (written so the
    -- regular expression is one-pass: three times cheaper than '[^/?#]*([^?#]*)', same result)
    regexp_extract(url, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*((?:/[^?#]*)?)', 1) as url_path,
    referrer,
    utm_source,
    utm_medium,
    utm_campaign,
    device,
    channel,
    amount,
    csat,
    satisfaction,
    text,
    properties,
    _partition,
    _source_file,
    _line,
    _loaded_at
from parsed
where kind = 'events' and reason is null;

-- the event ids to decide again: those in the batch, and those staged from its days before
create or replace temp table batch_event_ids as
select event_id from batch_events
union
select event_id from staging.events
where source = $source and _partition in (select unnest($days::date[]));

-- which of those ids have landed copies on other days, and on which days: found reading
-- two narrow columns only (a batch of new days usually finds none), so the full rows below
-- are read for those ids alone, not for every event staged so far (that scan grew with every
-- batch)
create or replace temp table other_copy_ids as
select event_id, _partition from staging.events
semi join batch_event_ids using (event_id)
where not (source = $source and _partition in (select unnest($days::date[])))
union
select event_id, _partition from intermediate.duplicate_events
semi join batch_event_ids using (event_id)
where not (source = $source and _partition in (select unnest($days::date[])));

-- the landed copies of those ids from other days (kept or duplicate); with the batch's
-- events, every landed copy. Kept to the days that hold copies too: DuckDB then reads only
-- those days' row groups (the tables are stored in load order), not every column of the whole
-- history (10M events in 57 batches: 22.2 s of reading by the id alone)
create or replace temp table other_copies as
select * from staging.events
semi join other_copy_ids using (event_id)
where _partition in (select _partition from other_copy_ids)
    and not (source = $source and _partition in (select unnest($days::date[])))
union all
select * from intermediate.duplicate_events
semi join other_copy_ids using (event_id)
where _partition in (select _partition from other_copy_ids)
    and not (source = $source and _partition in (select unnest($days::date[])));

-- most events land once: only the ids landed more than once go through the window
create or replace temp table landed_more_than_once as
select event_id from (select event_id from other_copies union all select event_id from batch_events)
group by event_id
having count(*) > 1;

delete from staging.events
where event_id in (select event_id from batch_event_ids);

delete from intermediate.duplicate_events
where event_id in (select event_id from batch_event_ids)
    or (source = $source and _partition in (select unnest($days::date[])));

insert into staging.events
select * from other_copies
anti join landed_more_than_once using (event_id)
union all
select * from batch_events
anti join landed_more_than_once using (event_id)
union all
select * from (
    -- each side narrowed to the ids landed more than once before the union, so the view's
    -- columns are computed for those events only
    select * from other_copies semi join landed_more_than_once using (event_id)
    union all
    select * from batch_events semi join landed_more_than_once using (event_id)
)
qualify row_number() over (partition by event_id order by _partition, _source_file, _line) = 1;

insert into intermediate.duplicate_events
select * from (
    select * from other_copies semi join landed_more_than_once using (event_id)
    union all
    select * from batch_events semi join landed_more_than_once using (event_id)
)
qualify row_number() over (partition by event_id order by _partition, _source_file, _line) > 1;

delete from quarantine.rejected
where source = $source and _partition in (select unnest($days::date[]));

insert into quarantine.rejected
select source, _partition, _source_file, _line, reason, payload, payload_bytes, payload_hash, _loaded_at
from parsed
where reason is not null;

delete from intermediate.profile_versions
where source = $source and _partition in (select unnest($days::date[]));

insert into intermediate.profile_versions
select source, _partition, _source_file, _line, event_id, record_id, occurred_at, identifiers, attributes
from parsed
where kind = 'profiles' and reason is null;

drop view batch_events;
drop table batch_event_ids;
drop table other_copy_ids;
drop table other_copies;
drop table landed_more_than_once;
drop table parsed;
