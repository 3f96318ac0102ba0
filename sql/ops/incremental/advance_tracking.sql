-- An incremental run starts from its dirty set: what the next run compares with moves on to
-- now. identity's change log is emptied (its customers are in this run's dirty set, which the
-- next run keeps if this one does not finish) and covers intermediate.identifier_sets as it is
-- now (moves_version.sql); the profiles this run compared (temp table profile_digests_now)
-- replace their digests.
delete from intermediate._identity_moves;

delete from intermediate._profile_digests
where profile_id in (select profile_id from candidate_profiles);

insert into intermediate._profile_digests by name
select profile_id, identifier_set, digest, source, _partition from profile_digests_now;
