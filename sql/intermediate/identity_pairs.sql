-- grain: one row per ordered pair of different identifiers seen together in one event or profile
-- depends on: intermediate.identity_sets
-- The identity graph before any cut: every identifier of a record linked to every other
-- identifier of that record, in both directions. Distinct identifier sets
-- (intermediate.identity_sets) are unnested once.
with identifier_sets as (
    select identifier_set, identifiers
    from intermediate.identity_sets
    where cardinality(identifiers) > 1
),

numbered_sets as (
    select
        row_number() over (order by identifier_set) as set_id,
        identifiers
    from identifier_sets
),

members as (
    select
        set_id,
        unnest(map_keys(identifiers)) as identifier_type,
        unnest(map_values(identifiers)) as identifier_value
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
