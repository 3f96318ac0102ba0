-- the columns of marts.journey_events (none when it does not exist), for the breakdowns
select column_name
from duckdb_columns()
where schema_name = 'marts' and table_name = 'journey_events'
order by column_index;
