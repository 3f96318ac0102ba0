-- identity's change log (intermediate._identity_moves) covers intermediate.identifier_sets as
-- it is now (run in the transaction that wrote both).
update intermediate._identity_moves_state
set sets_version = (
    select version from intermediate._table_versions where relation = 'intermediate.identifier_sets'
);
