-- grain: one row per ordered pair of linked identifiers, neither of them shared
-- depends on: intermediate.identity_pairs, intermediate.identity_nodes
-- The identity graph after the cut: links between non-shared identifiers, as node ids,
-- in both directions. Its connected components are the customers.
with pairs as (
    select * from intermediate.identity_pairs
),

nodes as (
    select * from intermediate.identity_nodes
),

final as (
    select
        a.node_id,
        b.node_id as other_node_id
    from pairs as p
    inner join nodes as a
        on p.identifier_type = a.identifier_type
        and p.identifier_value = a.identifier_value
    inner join nodes as b
        on p.other_type = b.identifier_type
        and p.other_value = b.identifier_value
    where not a.is_shared
        and not b.is_shared
)

select * from final
