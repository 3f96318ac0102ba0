-- grain: one row per identifier
-- depends on: intermediate.identity_nodes, intermediate.identity_components
-- The customer of every identifier: 'c_' and 16 hex digits of the SHA-256 of the smallest
-- identifier_key of its connected component, so the id depends on the component only (not on
-- input order, not on node ids, and not on unrelated data). Shared identifiers are their own
-- customer.
with nodes as (
    select * from intermediate.identity_nodes
),

components as (
    select * from intermediate.identity_components
),

rooted as (
    select
        n.identifier_type,
        n.identifier_value,
        n.identifier_key,
        n.is_shared,
        coalesce(c.component_node_id, n.node_id) as root_node_id
    from nodes as n
    left join components as c on n.node_id = c.node_id
),

roots as (
    select
        root_node_id,
        min(identifier_key) as root_key
    from rooted
    group by root_node_id
),

final as (
    select
        r.identifier_type,
        r.identifier_value,
        'c_' || left(sha256(roots.root_key), 16) as customer_id,
        r.is_shared
    from rooted as r
    inner join roots on r.root_node_id = roots.root_node_id
)

select * from final
