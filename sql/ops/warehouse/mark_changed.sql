-- Give each relation of $r a new version in the working file's intermediate._table_versions,
-- so the next publish copies it into the analyst file. A write of the whole table: no base
-- version and no scope (see mark_scoped).
insert or replace into intermediate._table_versions
    (relation, version, changed_at, base_version, scope_key, scope_digest, scope_relation)
select
    relation,
    uuid()::varchar,
    now()::timestamp,
    null,
    null,
    null,
    null
from unnest($r::varchar[]) as t (relation);
