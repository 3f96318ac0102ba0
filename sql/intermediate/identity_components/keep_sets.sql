-- identity, incremental: keep the identifier sets of the last build aside
-- (intermediate._identity_sets_before), so that the new build can be compared with them.
drop table if exists intermediate._identity_sets_before;

alter table intermediate.identity_sets rename to _identity_sets_before;
