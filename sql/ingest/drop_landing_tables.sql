-- The end of a load batch: its temp tables go.
drop table if exists landing_rows;
drop table if exists landing_files;
drop table if exists csv_headers;
