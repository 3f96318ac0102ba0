-- grain: one row per distinct identifier set of staging.events and staging.profiles
-- intermediate.identity_sets as sql/intermediate/identity_sets.sql defines it, summed from the
-- sets of each source and landing day (partition_sets.sql), so a full build reads the events
-- once for both.
with events as (
    select identifier_set, identifiers, n_events from intermediate._identity_partition_sets
),

profiles as (
    select identifiers::varchar as identifier_set, identifiers from staging.profiles
),

final as (
    select
        identifier_set,
        any_value(identifiers) as identifiers,
        sum(n_events)::bigint as n_events,
        sum(n_profiles)::bigint as n_profiles
    from (
        select identifier_set, identifiers, n_events, 0 as n_profiles from events
        union all
        select identifier_set, identifiers, 0 as n_events, 1 as n_profiles from profiles
    )
    group by identifier_set
)

select * from final
