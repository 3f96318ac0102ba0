-- The temp tables of one load batch: the landed files, and their lines (one row per landed
-- record, with its lineage) as transforms.ingest reads them.
create or replace temp table landing_rows (
    _partition date not null,
    _source_file varchar not null,
    _line bigint not null,
    payload varchar,
    _bytes bigint not null,
    _load_error varchar,
    _loaded_at timestamp not null
);

create or replace temp table landing_files (
    f varchar, rel varchar, day date, bytes bigint, note varchar, read_from varchar
);
