-- The ingest tables of the working file refilled with the rows the Spark ingest wrote (a full
-- load): each $frame names one table's rows on the driver. The tables keep their types and
-- keys (sql/ingest/tables.sql); the columns are matched by name.
delete from raw._partitions;
insert into raw._partitions by name select * from query_table($partitions);

delete from staging.events;
insert into staging.events by name select * from query_table($events);

delete from quarantine.rejected;
insert into quarantine.rejected by name select * from query_table($rejected);

delete from intermediate.duplicate_events;
insert into intermediate.duplicate_events by name select * from query_table($duplicates);

delete from intermediate.profile_versions;
insert into intermediate.profile_versions by name select * from query_table($profile_versions);
