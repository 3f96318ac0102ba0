-- How many rows relation $relation holds.
select count(*) from query_table($relation);
