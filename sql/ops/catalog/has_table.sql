-- 1 when the current database has the table $schema.$table, else 0.
select count(*) as n
from duckdb_tables()
where
    database_name = current_database()
    and schema_name = $schema
    and table_name = $table
