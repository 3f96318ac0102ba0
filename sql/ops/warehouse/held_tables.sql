-- The tables of the current (analyst) file, its bookkeeping schema $b left out.
select schema_name, table_name
from duckdb_tables()
where database_name = current_database() and schema_name <> $b
order by all;
