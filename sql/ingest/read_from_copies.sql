-- Files read through a scratch copy (decompressed, bad lines blanked): $f read from $c.
update landing_files set read_from = m.c
from (select unnest($c::varchar[]) as c, unnest($f::varchar[]) as f) as m
where landing_files.f = m.f;
