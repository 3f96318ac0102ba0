-- The landing days that the working file's (`work`) writes of relation $r with key $key
-- replaced since version $held (the analyst file's): the chain of intermediate._day_writes
-- from the table's version $version back to the write that started from $held. Temp table
-- publish_days (source, _partition), never written into the analyst file; the last statement
-- says whether the chain reaches $held (if not, the table is copied whole).
create or replace temp table publish_chain as
with recursive chain (version, base_version, source, days) as (
    select
        w.version,
        w.base_version,
        w.source,
        w.days
    from work.intermediate._day_writes as w
    where w.relation = $r and w.version = $version and w.scope_key = $key
    union all
    select
        w.version,
        w.base_version,
        w.source,
        w.days
    from chain as c
    inner join work.intermediate._day_writes as w
        on w.version = c.base_version
    where c.base_version <> $held and w.relation = $r and w.scope_key = $key
)
select * from chain;

create or replace temp table publish_days as
select distinct
    source,
    unnest(days) as _partition
from publish_chain;

select count(*) > 0 from publish_chain where base_version = $held;
