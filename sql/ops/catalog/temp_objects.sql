-- The temporary tables and views of the connection (registered frames included): what a step
-- leaves behind when it ends, dropped then as closing its own connection used to drop them.
select 'table' as kind, table_name as name
from duckdb_tables()
where temporary
union all
select 'view' as kind, view_name as name
from duckdb_views()
where temporary and not internal
order by kind, name;
