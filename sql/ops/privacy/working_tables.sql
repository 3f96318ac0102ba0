-- The tables of the current database, each with the statement that creates it.
select
    schema_name,
    table_name,
    sql
from duckdb_tables()
where database_name = current_database()
order by schema_name, table_name
