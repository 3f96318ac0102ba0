-- The session of an in-memory DuckDB that parses landed rows inside a Spark task
-- (transforms.engines.spark_ingest): UTC, as transforms.warehouse.connect sets it, and one
-- thread (Spark runs the tasks side by side).
set timezone = 'UTC';
set threads = 1;
