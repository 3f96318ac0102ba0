-- The dirty set's temp tables, dropped.
drop table if exists loaded_partitions;
drop table if exists staged_now;
drop table if exists held_before;
drop table if exists found;
drop table if exists candidate_profiles;
drop table if exists profile_digests_now;
