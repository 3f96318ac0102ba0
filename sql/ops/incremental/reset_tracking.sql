-- A run starts in full (or from the copies of an older working file, dirty_snapshot.sql): what
-- the next run compares with starts here. identity's change log is empty and covers
-- intermediate.identifier_sets as it is now (identity adds to it: add_identifier_sets.sql,
-- moves_full.sql); every profile's digest is kept, with the landing day of its latest version;
-- the whole copies of older working files are dropped.
create or replace table intermediate._identity_moves (
    identifier_set varchar,
    old_customer_id varchar,
    new_customer_id varchar
);

create or replace table intermediate._identity_moves_state as
select version as sets_version
from intermediate._table_versions
where relation = 'intermediate.identifier_sets';

create or replace table intermediate._profile_digests as
select
    profile_id,
    identifiers::varchar as identifier_set,
    md5(p::varchar) as digest,
    source,
    _partition
from staging.profiles as p;

drop table if exists intermediate._built_identifier_sets;

drop table if exists intermediate._built_profiles;
