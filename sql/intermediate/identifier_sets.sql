-- grain: one row per distinct identifier set of staging.events and staging.profiles that some
-- identifier of identity.customer_ids resolves
-- depends on: identity.customer_ids, intermediate.identity_sets
-- The one place that picks a customer for a set of identifiers (an event's or a profile's):
-- a shared identifier yields to the others, device-level identifiers to person-level ones, then
-- the smallest customer_id wins. A set is keyed by its text form (identifier_set), so that
-- consumers join and group on a plain string, never on a MAP value.
with sets as (
    select identifier_set, identifiers from intermediate.identity_sets
),

customer_ids as (
    select identifier_type, identifier_value, customer_id, is_shared from identity.customer_ids
),

set_members as (
    select
        identifier_set,
        unnest(map_keys(identifiers)) as identifier_type,
        unnest(map_values(identifiers)) as identifier_value
    from sets
),

final as (
    select
        m.identifier_set,
        arg_min(
            c.customer_id,
            (c.is_shared, list_contains($device_types, m.identifier_type), c.customer_id)
        ) as customer_id
    from set_members as m
    inner join customer_ids as c
        on m.identifier_type = c.identifier_type
        and m.identifier_value = c.identifier_value
    group by m.identifier_set
)

select * from final
