-- identity, incremental: intermediate.identity_edges loses the links of the identifiers that
-- became shared and gains the new pairs between identifiers that are not (the same rule as
-- sql/intermediate/identity_edges.sql).
delete from intermediate.identity_edges
where node_id in (select node_id from intermediate._identity_recount where is_shared and not was_shared)
    or other_node_id in (select node_id from intermediate._identity_recount where is_shared and not was_shared);

insert into intermediate.identity_edges by name
select
    a.node_id,
    b.node_id as other_node_id
from intermediate._identity_new_pairs as p
inner join intermediate.identity_nodes as a
    on p.identifier_type = a.identifier_type
    and p.identifier_value = a.identifier_value
inner join intermediate.identity_nodes as b
    on p.other_type = b.identifier_type
    and p.other_value = b.identifier_value
where not a.is_shared
    and not b.is_shared;
