-- identity components of an incremental run, last step: the affected nodes' rows of
-- intermediate.identity_components replaced by the fixed point of the propagation (an affected
-- node left without links, one that became shared, gets no row: it is alone). Returns how many
-- nodes were recomputed.
delete from intermediate.identity_components
where node_id in (select node_id from intermediate._identity_affected);

insert into intermediate.identity_components by name
select
    node_id,
    label as component_node_id
from component_labels;

select count(*) from intermediate._identity_affected;
