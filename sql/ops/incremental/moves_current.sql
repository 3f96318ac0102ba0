-- Whether identity's change log (intermediate._identity_moves) covers intermediate.identifier_sets
-- as it is: the version it was last brought up to is the table's version now. Every write of
-- the table by identity adds its changes to the log and moves that version on (identity.py); a
-- write by anything else leaves it behind, and the next run then cannot trust the log.
select count(*) = 1 as current
from intermediate._identity_moves_state as m
inner join intermediate._table_versions as v
    on v.relation = 'intermediate.identifier_sets'
    and v.version = m.sets_version;
