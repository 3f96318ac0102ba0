-- The identity build under way or last finished (at most one row, created on first use): whether
-- it runs in full or incrementally, and why; pending until intermediate.identifier_sets, the last
-- table of identity, is built. A build that finds one still pending builds in full.
create table if not exists intermediate._identity_state (
    mode varchar not null,
    pending boolean not null,
    reason varchar,
    n_new_sets bigint
);
