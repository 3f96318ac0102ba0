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

-- identity's change log: every identifier set whose customer identity changed since the run's
-- last dirty set (sql/ops/incremental/), with the customer it had and the one it has (null: none),
-- added to by every write of intermediate.identifier_sets (add_identifier_sets.sql,
-- moves_full.sql) and emptied when a run starts from it (sql/ops/incremental/advance_tracking.sql)
create table if not exists intermediate._identity_moves (
    identifier_set varchar,
    old_customer_id varchar,
    new_customer_id varchar
);
