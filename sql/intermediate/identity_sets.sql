-- grain: one row per distinct identifier set of staging.events and staging.profiles
-- depends on: staging.events, staging.profiles
-- The identifier sets the identity models work on (intermediate.identity_pairs, identity_nodes,
-- identifier_sets): the events and profiles are read once here, and the models after it see one
-- row per set instead of one per event. A set is keyed by its text form (identifier_set), so
-- that it is grouped on a plain string, never on a MAP value. The counts tell a nightly run
-- (transforms/identity.py) when a set is gone.
with events as (
    select identifiers from staging.events
),

profiles as (
    select identifiers from staging.profiles
),

final as (
    select
        identifier_set,
        any_value(identifiers) as identifiers,
        count(*) filter (where is_event) as n_events,
        count(*) filter (where not is_event) as n_profiles
    from (
        select identifiers::varchar as identifier_set, identifiers, true as is_event from events
        union all
        select identifiers::varchar as identifier_set, identifiers, false as is_event from profiles
    )
    group by identifier_set
)

select * from final
