-- identity, incremental: the changes of changed_sets.sql written (no set is gone, or identity
-- builds in full): the recounted days replace theirs in intermediate._identity_partition_sets,
-- intermediate.identity_sets takes the new counts and the new sets (the only row that can fall to
-- no record is the one of records without identifiers), and intermediate._identity_new_sets
-- holds the new sets for the identity graph (add_pairs.sql, add_nodes.sql).
delete from intermediate._identity_partition_sets
where _partition in (select _partition from identity_redo_partitions)
    and (source, _partition) in (select (source, _partition) from identity_redo_partitions);

insert into intermediate._identity_partition_sets by name
select source, _partition, identifier_set, n_events from identity_partition_sets_now;

delete from intermediate.identity_sets as s
using intermediate._identity_set_changes as c
where s.identifier_set is not distinct from c.identifier_set
    and c.n_events + c.n_profiles = 0;

update intermediate.identity_sets as s
set
    n_events = c.n_events,
    n_profiles = c.n_profiles
from intermediate._identity_set_changes as c
where s.identifier_set is not distinct from c.identifier_set
    and c.n_events + c.n_profiles > 0;

insert into intermediate.identity_sets by name
select identifier_set, identifiers, n_events, n_profiles
from intermediate._identity_set_changes
where n_events_before is null
    and n_events + n_profiles > 0;

create or replace table intermediate._identity_new_sets as
select identifier_set, identifiers
from intermediate._identity_set_changes
where n_events_before is null
    and n_events + n_profiles > 0
    and identifier_set is not null;
