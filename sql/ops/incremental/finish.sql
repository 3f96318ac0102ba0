-- A run finished: remember what it built from, so that the next one compares with it.
create or replace table intermediate._built_identifier_sets as
select identifier_set, customer_id from intermediate.identifier_sets;

create or replace table intermediate._built_profiles as
select profile_id, identifiers::varchar as identifier_set, md5(p::varchar) as digest
from staging.profiles as p;

update intermediate._incremental_state
set pending = false, finished_at = now()::timestamp;
