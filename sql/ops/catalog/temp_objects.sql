-- The temporary tables and views of the connection (registered frames included): what a step
-- leaves behind when it ends, dropped then as closing its own connection used to drop them.
-- Each row is the statement that drops one (transforms.warehouse.drop_temp_objects runs them);
-- $prefix keeps those whose name starts with it ('' keeps all).
select 'drop table if exists temp.main.' || '"' || replace(table_name, '"', '""') || '"' as statement
from duckdb_tables()
where temporary and starts_with(table_name, $prefix)
union all
select 'drop view if exists temp.main.' || '"' || replace(view_name, '"', '""') || '"' as statement
from duckdb_views()
where temporary and not internal and starts_with(view_name, $prefix)
order by statement;
