drop table if exists identity_redo_partitions;
drop table if exists identity_partition_sets_now;
drop table if exists identity_event_deltas;
drop table if exists identity_profile_sets;
