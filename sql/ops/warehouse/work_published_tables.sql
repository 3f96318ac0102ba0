-- Each table of the attached working file (`work`) that analysts get: every schema but the
-- private ones ($private), plus the load ledger raw._partitions.
select
    schema_name,
    table_name,
    sql,
    estimated_size,
    md5(sql)
from duckdb_tables()
where
    database_name = 'work'
    and (
        schema_name not in (select unnest($private::varchar[]))
        or (schema_name = 'raw' and table_name = '_partitions')
    )
order by schema_name, table_name;
