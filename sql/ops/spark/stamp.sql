-- What a DuckDB-built table holds, as two numbers: Spark re-reads it only when they change.
select count(*) as n_rows, bit_xor(hash(t)) as content_hash
from query_table($relation) as t;
