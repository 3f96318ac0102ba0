-- identity components, first step: every linked node labelled with the smallest of itself and
-- its neighbours (temp table component_labels)
create or replace temp table component_labels as
select
    node_id,
    least(node_id, min(other_node_id)) as label
from intermediate.identity_edges
group by node_id;
