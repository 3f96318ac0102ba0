-- Whether table $s.$t exists in database $d (the current one when $d is null).
select count(*) > 0
from duckdb_tables()
where database_name = coalesce($d, current_database()) and schema_name = $s and table_name = $t;
