-- The customers this run rebuilds (intermediate.dirty_customers), compared with what the last
-- finished run built:
--  * the old and the new customer of every event id the loads of this run decided again: the
--    events staged (or kept as duplicates) from the partitions loaded since $since, and those
--    the previous build held from those partitions (marts.journey_events, one row per event);
--  * both customers of every identifier set whose customer changed (identity merged or split
--    customers: a linking identifier, one that became shared);
--  * both customers of every profile that changed;
--  * with $keep_previous, the customers of a run that did not finish.
-- A null customer_id row says an event with no customer was touched (the runner then builds
-- in full).
create or replace temp table loaded_partitions as
select source, _partition
from raw._partitions
where $since::timestamp is null or loaded_at > $since::timestamp;

create or replace temp table touched_events as
select event_id from staging.events semi join loaded_partitions using (source, _partition)
union
select event_id from intermediate.duplicate_events semi join loaded_partitions using (source, _partition)
union
select event_id from marts.journey_events semi join loaded_partitions using (source, _partition);

create or replace temp table current_profiles as
select profile_id, identifiers::varchar as identifier_set, md5(p::varchar) as digest
from staging.profiles as p;

create or replace temp table found as
select customer_id from marts.journey_events semi join touched_events using (event_id)
union
select s.customer_id
from staging.events as e
semi join touched_events using (event_id)
left join intermediate.identifier_sets as s on e.identifiers::varchar = s.identifier_set
union
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
inner join intermediate.identifier_sets as s using (identifier_set)
union
select customer_id from intermediate.dirty_customers where $keep_previous;

create or replace table intermediate.dirty_customers as
select customer_id from found;

drop table loaded_partitions;
drop table touched_events;
drop table current_profiles;
drop table found;

select count(*), count(*) filter (where customer_id is null) from intermediate.dirty_customers;
