-- The schemas of the current database, but the built-in ones.
select schema_name
from duckdb_schemas()
where database_name = current_database() and not internal
order by schema_name
