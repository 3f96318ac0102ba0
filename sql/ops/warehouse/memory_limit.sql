-- DuckDB's memory limit for the connection's database (settings.yaml duckdb_memory_limit).
set memory_limit = $v;
