-- The run's dirty set, in a working file from before intermediate._identity_moves (an upgrade):
-- compared with the copies the last finished run kept of every identifier set's customer
-- (intermediate._built_identifier_sets) and of every profile (intermediate._built_profiles):
-- both customers of every identifier set whose customer changed, and of every profile that
-- changed. Reads every set and profile once; the run then starts the change log
-- (reset_tracking.sql) and drops the copies.
create or replace temp table current_profiles as
select profile_id, identifiers::varchar as identifier_set, md5(p::varchar) as digest
from staging.profiles as p;

insert into found
select customer_id from (
    select unnest([b.customer_id, s.customer_id]) as customer_id
    from intermediate._built_identifier_sets as b
    full join intermediate.identifier_sets as s using (identifier_set)
    where b.customer_id is distinct from s.customer_id
)
where customer_id is not null
union
select s.customer_id
from (
    select identifier_set from (
        select * from intermediate._built_profiles
        except
        select * from current_profiles
    )
) as changed
inner join intermediate._built_identifier_sets as s using (identifier_set)
union
select s.customer_id
from (
    select identifier_set from (
        select * from current_profiles
        except
        select * from intermediate._built_profiles
    )
) as changed
inner join intermediate.identifier_sets as s using (identifier_set);

drop table current_profiles;
