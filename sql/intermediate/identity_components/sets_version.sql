-- The version identity just gave intermediate.identity_sets (intermediate._table_versions).
update intermediate._identity_state
set sets_version = (
    select version from intermediate._table_versions where relation = 'intermediate.identity_sets'
);
