-- The tables of the connection's file that span $min_rows rows or more on disk, with the rows
-- they store: estimated_size counts deleted rows too, until a vacuum merges their row groups.
select schema_name || '.' || table_name as relation, estimated_size as stored_rows
from duckdb_tables()
where database_name = current_database()
    and not temporary
    and estimated_size >= $min_rows
order by relation;
