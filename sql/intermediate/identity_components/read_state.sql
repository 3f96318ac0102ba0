-- The identity build under way or last finished: mode, pending, reason, new identifier sets, the
-- erasures it had seen, and whether intermediate.identity_sets is still as identity wrote it.
select
    s.mode,
    s.pending,
    s.reason,
    s.n_new_sets,
    s.n_erasures,
    s.sets_version is not distinct from (
        select v.version from intermediate._table_versions as v where v.relation = 'intermediate.identity_sets'
    ) as sets_current
from intermediate._identity_state as s;
