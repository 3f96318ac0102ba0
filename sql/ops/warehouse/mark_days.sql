-- Give relation $r the new version $v after a write that replaced only the rows of source
-- $source's landing days $days, keyed by $key ('source_day': the rows of those days;
-- 'event_id': the rows of the event ids those days held before or after). The write is kept in
-- intermediate._day_writes with the version it started from, so a publish whose analyst file
-- holds an earlier version of the chain replaces only the rows of the days written since. The
-- log keeps a relation's last 1000 writes; a publish older than those copies the table whole.
insert into intermediate._day_writes (relation, version, base_version, scope_key, source, days, changed_at)
select
    $r,
    $v,
    (select v.version from intermediate._table_versions as v where v.relation = $r),
    $key,
    $source,
    $days::date [],
    now()::timestamp;

insert or replace into intermediate._table_versions
    (relation, version, changed_at, base_version, scope_key, scope_digest, scope_relation)
select
    relation,
    version,
    changed_at,
    base_version,
    scope_key,
    null,
    null
from intermediate._day_writes
where version = $v;

delete from intermediate._day_writes
where
    relation = $r
    and version not in (
        select w.version
        from intermediate._day_writes as w
        where w.relation = $r
        order by w.changed_at desc
        limit 1000
    );
