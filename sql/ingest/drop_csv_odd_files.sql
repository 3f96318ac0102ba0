-- The end of the quoted-line join.
drop table if exists csv_odd_files;
