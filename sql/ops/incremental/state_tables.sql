-- The runner's bookkeeping of incremental builds, in the working file (private), created on
-- first use: the state of the last run (mode, whether it is still to be finished, the load
-- ledger's newest loaded_at it covered, how many erasures it saw, when it finished and a digest
-- of the configuration it ran with) and each model's fingerprint (its SQL and the parameters it
-- binds, with those of what it reads) as last built.
create table if not exists intermediate._incremental_state (
    mode varchar not null,
    pending boolean not null,
    built_through timestamp,
    n_erasures bigint not null,
    reason varchar
);

alter table intermediate._incremental_state add column if not exists finished_at timestamp;

alter table intermediate._incremental_state add column if not exists config_digest varchar;

create table if not exists intermediate._model_fingerprints (
    relation varchar primary key,
    fingerprint varchar not null,
    built_at timestamp not null
);

create table if not exists intermediate.dirty_customers (customer_id varchar);
