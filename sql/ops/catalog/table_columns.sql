-- The column names of table $schema.$table of the current database.
select column_name
from duckdb_columns()
where database_name = current_database()
    and schema_name = $schema
    and table_name = $table;
