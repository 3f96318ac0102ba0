-- The erasure log (published): one row per `journeys forget`, without any identifier.
create table marts.erasures (
    erasure_id varchar not null,
    erased_at timestamp not null,
    requested_by varchar not null,
    n_customers bigint not null,
    n_identifiers bigint not null,
    n_records bigint not null,
    n_events bigint not null
);
