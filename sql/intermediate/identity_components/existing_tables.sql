-- Which of the relations $r ('schema.table') exist in the working file: one look at the catalog
-- for the tables identity's incremental build needs.
select schema_name || '.' || table_name as relation
from duckdb_tables()
where database_name = current_database()
    and schema_name || '.' || table_name in (select unnest($r::varchar[]));
