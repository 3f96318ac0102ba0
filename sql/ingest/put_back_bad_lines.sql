-- Lines set aside while reading: each line that is not valid UTF-8 replaces its blank with its
-- escaped text and a load error; a damaged gzip archive gets a new row where its lines were
-- lost. Each file's note says so.
create or replace temp table landing_bad as
select lf.day, lf.rel, b.n, b.payload, b.nbytes, b.reason, b.note
from (
    select
        unnest($f::varchar[]) as f,
        unnest($n::bigint[]) as n,
        unnest($p::varchar[]) as payload,
        unnest($b::bigint[]) as nbytes,
        unnest($r::varchar[]) as reason,
        unnest($o::varchar[]) as note
) as b
join landing_files as lf on lf.f = b.f;

delete from landing_rows using landing_bad as b
where landing_rows._source_file = b.rel and landing_rows._line = b.n;

insert into landing_rows
select day, rel, n, payload, nbytes, reason, $at from landing_bad;

update landing_files set note = b.note
from (select rel, string_agg(distinct note, '; ') as note from landing_bad group by rel) as b
where landing_files.rel = b.rel;

drop table landing_bad;
