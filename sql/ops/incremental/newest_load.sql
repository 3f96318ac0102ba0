-- The newest load of the ledger and how many erasures were recorded: what a run covers.
select
    (select max(loaded_at) from raw._partitions) as built_through,
    (select count(*) from duckdb_tables() where schema_name = 'marts' and table_name = 'erasures') as has_erasures;
