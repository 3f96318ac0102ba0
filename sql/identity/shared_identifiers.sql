-- grain: one row per shared identifier
-- depends on: intermediate.identity_nodes, identity.customer_ids
-- Identifiers seen with more than identity.max_linked_identifiers identifiers of one type
-- (a kiosk's anonymousId, an info@ address): reported here, and kept out of any merge.
with nodes as (
    select * from intermediate.identity_nodes
),

customer_ids as (
    select * from identity.customer_ids
),

final as (
    select
        n.identifier_type,
        n.identifier_value,
        n.most_linked_type as linked_type,
        n.n_linked,
        $max_linked as max_linked,
        c.customer_id
    from nodes as n
    inner join customer_ids as c
        on n.identifier_type = c.identifier_type
        and n.identifier_value = c.identifier_value
    where n.is_shared
)

select * from final
