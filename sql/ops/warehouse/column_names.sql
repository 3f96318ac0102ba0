-- The columns of table $s.$t.
select column_name from duckdb_columns() where schema_name = $s and table_name = $t;
