-- Erase a person from the staged rows of landing days that cannot be read again (their folder
-- was archived): each staged record of source $source on days $days carrying one of the
-- person's stored identifier $values becomes a rejected record with reason $reason and no
-- payload, so it stays counted. The last statement returns how many records were erased.
create or replace temp table erased_staged as
select source, _partition, _source_file, _line, _loaded_at
from staging.events
where source = $source and _partition in (select unnest($days::date[]))
    and len(list_intersect(map_values(identifiers), $values::varchar[])) > 0
union all
select source, _partition, _source_file, _line, _loaded_at
from intermediate.duplicate_events
where source = $source and _partition in (select unnest($days::date[]))
    and len(list_intersect(map_values(identifiers), $values::varchar[])) > 0
union all
select source, _partition, _source_file, _line, null as _loaded_at
from intermediate.profile_versions
where source = $source and _partition in (select unnest($days::date[]))
    and len(list_intersect(map_values(identifiers), $values::varchar[])) > 0;

delete from staging.events
where (source, _partition, _source_file, _line) in (select (source, _partition, _source_file, _line) from erased_staged);

delete from intermediate.duplicate_events
where (source, _partition, _source_file, _line) in (select (source, _partition, _source_file, _line) from erased_staged);

delete from intermediate.profile_versions
where (source, _partition, _source_file, _line) in (select (source, _partition, _source_file, _line) from erased_staged);

insert into quarantine.rejected
select source, _partition, _source_file, _line, $reason, null, null, null, _loaded_at
from erased_staged;

select count(*) from erased_staged;
