-- marts.pipeline_runs, the run log: one row per source, landing partition and run that loaded it.
create table marts.pipeline_runs (
    run_id varchar not null,
    source varchar not null,
    _partition date not null,
    n_read bigint,
    n_accepted bigint,
    n_rejected bigint,
    n_duplicates bigint,
    started_at timestamp,
    finished_at timestamp,
    status varchar not null,
    message varchar
);
