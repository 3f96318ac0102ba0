-- one iteration of label propagation with pointer jumping: each node takes the smallest label
-- among itself and its neighbours, then the label of its label. Returns how many labels changed;
-- component_labels holds the new labels afterwards.
create or replace temp table component_labels_next as
with hop as (
    select
        e.node_id,
        min(l.label) as label
    from component_edges as e
    inner join component_labels as l on e.other_node_id = l.node_id
    group by e.node_id
),

merged as (
    select
        l.node_id,
        least(l.label, h.label) as label
    from component_labels as l
    inner join hop as h on l.node_id = h.node_id
),

jumped as (
    select
        m.node_id,
        least(m.label, p.label) as label
    from merged as m
    inner join merged as p on m.label = p.node_id
)

select * from jumped;

create or replace temp table component_label_changes as
select count(*) as n_changed
from component_labels_next as n
inner join component_labels as l on n.node_id = l.node_id
where n.label <> l.label;

create or replace temp table component_labels as
select * from component_labels_next;

select n_changed from component_label_changes;
