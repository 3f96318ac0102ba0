-- The tables the ingest stage writes, created empty on first use. The landing files are the
-- raw layer (replayable, with file and line lineage); raw._partitions is their ledger: one row
-- per source and landing day loaded, with the files' fingerprint and the records read.
create table if not exists raw._partitions (
    source varchar not null,
    _partition date not null,
    fingerprint varchar not null,
    n_files integer not null,
    n_lines bigint not null,
    run_id varchar,
    started_at timestamp not null,
    loaded_at timestamp not null,
    primary key (source, _partition)
);

create table if not exists staging.events (
    event_id varchar, source varchar, source_event_id varchar, event_name varchar, occurred_at timestamp,
    identifiers map(varchar, varchar), url varchar, url_path varchar, referrer varchar, utm_source varchar,
    utm_medium varchar, utm_campaign varchar, device varchar, channel varchar, amount double, csat double,
    satisfaction varchar, text varchar, properties json, _partition date, _source_file varchar, _line bigint,
    _loaded_at timestamp
);

-- accepted event records that lost to an earlier landed copy of their event_id (staging.events' shape)
create table if not exists intermediate.duplicate_events as select * from staging.events limit 0;

-- every accepted profile record, each version: staging.profiles keeps the latest
create table if not exists intermediate.profile_versions (
    source varchar, _partition date, _source_file varchar, _line bigint, event_id varchar, record_id varchar,
    occurred_at timestamp, identifiers map(varchar, varchar), attributes map(varchar, varchar)
);

create table if not exists quarantine.rejected (
    source varchar, _partition date, _source_file varchar, _line bigint, reason varchar, payload varchar,
    payload_bytes bigint, payload_hash varchar, _loaded_at timestamp
);
