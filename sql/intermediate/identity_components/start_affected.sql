-- identity components of an incremental run, first step: the same propagation as start.sql, over
-- the nodes whose component may have changed (intermediate._identity_affected: the ends of the
-- new pairs, with every node of the stored components they were in). Every link of such a node
-- leads to another affected node (a new link is a new pair; an old one stays inside a stored
-- component), so these links alone give their components exactly.
create or replace table intermediate._identity_affected as
with seeds as (
    select n.node_id
    from intermediate.identity_nodes as n
    semi join intermediate._identity_touched as t using (identifier_type, identifier_value)
),

seed_components as (
    select distinct c.component_node_id
    from intermediate.identity_components as c
    semi join seeds using (node_id)
)

select node_id from seeds
union
select c.node_id
from intermediate.identity_components as c
semi join seed_components using (component_node_id);

create or replace temp table component_edges as
select e.node_id, e.other_node_id
from intermediate.identity_edges as e
semi join intermediate._identity_affected using (node_id);

create or replace temp table component_labels as
select
    node_id,
    least(node_id, min(other_node_id)) as label
from component_edges
group by node_id;
