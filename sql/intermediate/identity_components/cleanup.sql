drop table if exists component_label_changes;
drop table if exists component_labels_next;
drop table if exists component_labels;
drop table if exists component_edges;
