-- The schemas of the current (analyst) file, its bookkeeping schema $b left out.
select schema_name
from duckdb_schemas()
where database_name = current_database() and not internal and schema_name <> $b;
