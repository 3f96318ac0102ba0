-- grain: one row per distinct identifier of staging.events and staging.profiles
-- depends on: staging.events, staging.profiles, intermediate.identity_pairs
-- Numbers every identifier (node_id follows identifier_key order) and flags the identifiers
-- linked to more than $max_linked others of one type: those link nobody. A person-level
-- identifier does not count the device-level ones ($device_types) it was seen with.
with events as (
    select identifiers from staging.events
),

profiles as (
    select identifiers from staging.profiles
),

pairs as (
    select * from intermediate.identity_pairs
),

-- a set as its lists of keys and values (portable: Spark cannot make a MAP distinct)
identifier_sets as (
    select distinct
        map_keys(identifiers) as identifier_types,
        map_values(identifiers) as identifier_values
    from (
        select identifiers from events
        union all
        select identifiers from profiles
    )
),

identifiers as (
    select distinct
        unnest(identifier_types) as identifier_type,
        unnest(identifier_values) as identifier_value
    from identifier_sets
),

links_by_type as (
    select
        identifier_type,
        identifier_value,
        other_type,
        count(*) as n_linked
    from pairs
    where list_contains($device_types, identifier_type)
        or not list_contains($device_types, other_type)
    group by identifier_type, identifier_value, other_type
),

most_linked as (
    select
        identifier_type,
        identifier_value,
        arg_max(other_type, (n_linked, other_type)) as most_linked_type,
        max(n_linked) as n_linked
    from links_by_type
    group by identifier_type, identifier_value
),

final as (
    select
        row_number() over (order by i.identifier_type || ':' || i.identifier_value) as node_id,
        i.identifier_type,
        i.identifier_value,
        i.identifier_type || ':' || i.identifier_value as identifier_key,
        coalesce(m.n_linked, 0) as n_linked,
        m.most_linked_type,
        coalesce(m.n_linked, 0) > $max_linked as is_shared
    from identifiers as i
    left join most_linked as m
        on i.identifier_type = m.identifier_type
        and i.identifier_value = m.identifier_value
)

select * from final
