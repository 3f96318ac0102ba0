-- The run's dirty set: the customers of every profile that changed since the last dirty set,
-- under the identifier set it had and the one it has. Only the profiles a load of this run can
-- have changed are compared (temp table candidate_profiles): those with a version in a loaded
-- partition, and those whose latest version came from one (a reloaded day may have removed it).
-- Their digests now (temp table profile_digests_now) replace theirs in
-- intermediate._profile_digests when the run starts (advance_tracking.sql). An identifier set
-- whose customer changed is in intermediate._identity_moves with both customers, so the
-- customer a set has now stands for the one it had.
create or replace temp table candidate_profiles as
select event_id as profile_id
from intermediate.profile_versions
semi join loaded_partitions using (source, _partition)
union
select profile_id
from intermediate._profile_digests
semi join loaded_partitions using (source, _partition);

create or replace temp table profile_digests_now as
select
    p.profile_id,
    p.identifiers::varchar as identifier_set,
    md5(p::varchar) as digest,
    p.source,
    p._partition
from (select * from staging.profiles semi join candidate_profiles using (profile_id)) as p;

insert into found
select s.customer_id
from (
    select identifier_set from (
        select profile_id, identifier_set, digest
        from intermediate._profile_digests
        semi join candidate_profiles using (profile_id)
        except
        select profile_id, identifier_set, digest from profile_digests_now
    )
    union
    select identifier_set from (
        select profile_id, identifier_set, digest from profile_digests_now
        except
        select profile_id, identifier_set, digest
        from intermediate._profile_digests
        semi join candidate_profiles using (profile_id)
    )
) as changed
inner join intermediate.identifier_sets as s using (identifier_set);
