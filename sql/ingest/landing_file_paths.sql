-- The batch's landed files, and the path each is read from (itself, or its scratch copy).
select f, read_from from landing_files order by f;
