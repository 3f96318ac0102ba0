-- The identity build under way or last finished (at most one row, created on first use): whether
-- it runs in full or incrementally, and why; pending until intermediate.identifier_sets, the last
-- table of identity, is built. A build that finds one still pending builds in full. It also keeps
-- the version identity gave intermediate.identity_sets and the erasures it had seen: a table
-- written by another build (Spark), or an erasure since, makes the next build a full one.
create table if not exists intermediate._identity_state (
    mode varchar not null,
    pending boolean not null,
    reason varchar,
    n_new_sets bigint
);

alter table intermediate._identity_state add column if not exists sets_version varchar;

alter table intermediate._identity_state add column if not exists n_erasures bigint;
