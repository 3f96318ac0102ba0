-- identity, incremental: how the identifier sets changed since the last identity build, reading
-- only the events of the days whose content may have changed (temp table
-- identity_redo_partitions): the days loaded since (a new or another loaded_at in the ledger),
-- and the days whose event copies staging did not keep changed (an event that moved between
-- staging.events and intermediate.duplicate_events). Their sets are counted again; with the
-- profiles' sets, intermediate._identity_set_changes holds every set whose counts changed,
-- before and after. Returns (new sets, sets gone, events staged, events counted): a set is gone
-- when no event or profile carries it any longer (identity then builds in full), and the two
-- event counts differ when staging changed in a way the ledger does not show (an erasure).
create or replace temp table identity_redo_partitions as
select distinct source, _partition from (
    select source, _partition from (
        select source, _partition, loaded_at from raw._partitions
        except
        select source, _partition, loaded_at from intermediate._identity_loads
    )
    union all
    select source, _partition from (
        select source, _partition, loaded_at from intermediate._identity_loads
        except
        select source, _partition, loaded_at from raw._partitions
    )
    union all
    select source, _partition from (
        select source, _partition, _source_file, _line, event_id from intermediate.duplicate_events
        except all
        select source, _partition, _source_file, _line, event_id from intermediate._identity_duplicates
    )
    union all
    select source, _partition from (
        select source, _partition, _source_file, _line, event_id from intermediate._identity_duplicates
        except all
        select source, _partition, _source_file, _line, event_id from intermediate.duplicate_events
    )
);

-- the days' sets now (the filter on _partition alone lets the scan skip the other days)
create or replace temp table identity_partition_sets_now as
select
    source,
    _partition,
    identifiers::varchar as identifier_set,
    any_value(identifiers) as identifiers,
    count(*) as n_events
from staging.events
semi join identity_redo_partitions using (source, _partition)
where _partition in (select _partition from identity_redo_partitions)
group by source, _partition, identifier_set;

create or replace temp table identity_event_deltas as
select
    identifier_set,
    any_value(identifiers) as identifiers,
    sum(n_events)::bigint as delta
from (
    select identifier_set, identifiers, n_events from identity_partition_sets_now
    union all
    select p.identifier_set, null as identifiers, -p.n_events
    from intermediate._identity_partition_sets as p
    semi join identity_redo_partitions using (source, _partition)
    where p._partition in (select _partition from identity_redo_partitions)
)
group by identifier_set
having sum(n_events) <> 0;

create or replace temp table identity_profile_sets as
select
    identifiers::varchar as identifier_set,
    any_value(identifiers) as identifiers,
    count(*) as n_profiles
from staging.profiles
group by identifier_set;

create or replace table intermediate._identity_set_changes as
with touched as (
    select identifier_set, identifiers from identity_event_deltas
    union all
    select identifier_set, identifiers from identity_profile_sets
    union all
    select identifier_set, identifiers from intermediate.identity_sets where n_profiles > 0
),

sets as (
    select identifier_set, any_value(identifiers) as identifiers
    from touched
    group by identifier_set
),

counted as (
    select
        t.identifier_set,
        t.identifiers,
        b.n_events as n_events_before,
        b.n_profiles as n_profiles_before,
        coalesce(b.n_events, 0) + coalesce(d.delta, 0) as n_events,
        coalesce(p.n_profiles, 0) as n_profiles
    from sets as t
    left join intermediate.identity_sets as b on t.identifier_set is not distinct from b.identifier_set
    left join identity_event_deltas as d on t.identifier_set is not distinct from d.identifier_set
    left join identity_profile_sets as p on t.identifier_set is not distinct from p.identifier_set
)

select * from counted
where n_events_before is distinct from n_events
    or n_profiles_before is distinct from n_profiles;

select
    count(*) filter (where n_events_before is null and n_events + n_profiles > 0 and identifier_set is not null) as n_new,
    count(*) filter (where n_events_before is not null and n_events + n_profiles = 0 and identifier_set is not null) as n_gone,
    (select count(*) from staging.events) as n_staged,
    (select coalesce(sum(n_events), 0) from intermediate.identity_sets)
    + (select coalesce(sum(delta), 0) from identity_event_deltas) as n_counted
from intermediate._identity_set_changes;
