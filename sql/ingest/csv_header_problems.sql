-- Each CSV file's columns ($cols) and why no row of it can be read ($problem, null when it
-- can); the header lines themselves are not records.
create or replace temp table csv_headers as
select unnest($rel::varchar[]) as rel, unnest($cols::varchar[][]) as cols, unnest($problem::varchar[]) as problem;

update landing_files set note = h.problem
from csv_headers as h
where landing_files.rel = h.rel and h.problem is not null;

delete from landing_rows where _line = 1;
