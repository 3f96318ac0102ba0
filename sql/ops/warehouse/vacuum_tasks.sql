-- How many row-group merges (vacuum tasks) DuckDB may run at each checkpoint: 0 while deleted
-- rows are few, DuckDB's default (100) when a table's share of them is due (transforms.warehouse.compact_if_due).
set max_vacuum_tasks = $n;
