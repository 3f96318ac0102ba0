-- The CSV files of the batch with a line holding an odd number of quotes (a quoted field that
-- holds a line break opens on one such line and closes on the next); returns how many.
create or replace temp table csv_odd_files as
select distinct _source_file
from landing_rows
where contains(payload, '"') and (strlen(payload) - strlen(replace(payload, '"', ''))) % 2 = 1;

select count(*) from csv_odd_files;
