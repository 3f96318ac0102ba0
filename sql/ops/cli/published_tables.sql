-- The tables an analyst reads, in name order (bookkeeping tables start with `_`).
select
    schema_name,
    table_name
from duckdb_tables()
where schema_name in ('raw', 'staging', 'quarantine', 'identity', 'marts')
order by schema_name, table_name
