-- grain: one row per linked node
-- The fixed point of the label propagation: each node with the smallest node of its component.
select
    node_id,
    label as component_node_id
from component_labels
