-- Every column of every table of the attached file $db, in table and column order.
select
    schema_name,
    table_name,
    column_name,
    data_type
from duckdb_columns()
where database_name = $db and not internal
order by schema_name, table_name, column_index
