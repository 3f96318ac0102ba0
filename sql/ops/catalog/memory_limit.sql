-- DuckDB's memory limit of this connection, as it reads (e.g. '5.5 GiB').
select current_setting('memory_limit');
