-- Give each relation of $r a new version in the working file's intermediate._table_versions,
-- so the next publish copies it into the analyst file.
create schema if not exists intermediate;

create table if not exists intermediate._table_versions (
    relation varchar primary key,
    version varchar not null,
    changed_at timestamp not null
);

insert or replace into intermediate._table_versions
select
    relation,
    uuid()::varchar,
    now()::timestamp
from unnest($r::varchar[]) as t (relation);
