-- The working file's intermediate._table_versions: one row per table written, with a version
-- that changes at every write, and for a write of some customers' rows only, the version it
-- started from, its key, the table of its customers (the run's dirty set unless the write
-- says otherwise), a digest of them and the customers outside that set whose rows it also
-- changed (mark_changed, mark_scoped). The columns added later are added to a table from an
-- older working file.
create schema if not exists intermediate;

create table if not exists intermediate._table_versions (
    relation varchar primary key,
    version varchar not null,
    changed_at timestamp not null
);

alter table intermediate._table_versions add column if not exists base_version varchar;

alter table intermediate._table_versions add column if not exists scope_key varchar;

alter table intermediate._table_versions add column if not exists scope_digest varchar;

alter table intermediate._table_versions add column if not exists scope_relation varchar;

alter table intermediate._table_versions add column if not exists scope_extra varchar [];

-- One row per write that replaced only the rows of some landing days of one source
-- (mark_days): the version it gave, the version it started from, its key and the days. A
-- publish follows these rows from the table's version back to the analyst file's.
create table if not exists intermediate._day_writes (
    relation varchar not null,
    version varchar primary key,
    base_version varchar,
    scope_key varchar not null,
    source varchar not null,
    days date [] not null,
    changed_at timestamp not null
);
