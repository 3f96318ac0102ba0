-- DuckDB's threads for the connection's database (settings.yaml duckdb_threads).
set threads = $v;
