-- grain: one row per ordered pair of different identifiers seen together in one event or profile
-- depends on: staging.events, staging.profiles
-- The identity graph before any cut: every identifier of a record linked to every other
-- identifier of that record, in both directions. Distinct identifier sets are unnested once.
with events as (
    select identifiers from staging.events
),

profiles as (
    select identifiers from staging.profiles
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
    where cardinality(identifiers) > 1
),

numbered_sets as (
    select
        row_number() over (order by identifier_types, identifier_values) as set_id,
        identifier_types,
        identifier_values
    from identifier_sets
),

members as (
    select
        set_id,
        unnest(identifier_types) as identifier_type,
        unnest(identifier_values) as identifier_value
    from numbered_sets
),

final as (
    select distinct
        a.identifier_type,
        a.identifier_value,
        b.identifier_type as other_type,
        b.identifier_value as other_value
    from members as a
    inner join members as b
        on a.set_id = b.set_id
        and (a.identifier_type <> b.identifier_type or a.identifier_value <> b.identifier_value)
)

select * from final
