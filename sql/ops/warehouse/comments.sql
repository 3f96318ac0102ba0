-- The comments of table $s.$t of this database (not of one attached beside it): its own
-- (column_name null) and each column's (null: none).
select null as column_name, comment from duckdb_tables()
where database_name = current_database() and schema_name = $s and table_name = $t
union all
select column_name, comment from duckdb_columns()
where database_name = current_database() and schema_name = $s and table_name = $t;
