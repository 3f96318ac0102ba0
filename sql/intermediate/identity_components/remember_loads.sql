-- identity: what the sets of intermediate._identity_partition_sets were counted from, for the
-- next nightly run to compare with: the load ledger's days (a day loaded again has a new
-- loaded_at) and the event copies staging did not keep (an event of a day not loaded again
-- moves between staging.events and intermediate.duplicate_events only when another day's copy
-- of it wins or stops winning, so its day's copies change here too).
create or replace table intermediate._identity_loads as
select source, _partition, loaded_at from raw._partitions;

create or replace table intermediate._identity_duplicates as
select source, _partition, _source_file, _line, event_id from intermediate.duplicate_events;
