-- The file of the working database this connection writes.
select path from duckdb_databases() where database_name = current_database();
