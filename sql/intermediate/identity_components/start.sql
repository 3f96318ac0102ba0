-- identity components, first step: the links to propagate over (temp table component_edges:
-- every link of intermediate.identity_edges) and every linked node labelled with the smallest of
-- itself and its neighbours (temp table component_labels)
create or replace temp table component_edges as
select node_id, other_node_id
from intermediate.identity_edges;

create or replace temp table component_labels as
select
    node_id,
    least(node_id, min(other_node_id)) as label
from component_edges
group by node_id;
