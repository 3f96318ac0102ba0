-- The rows of the table $relation.
select count(*) as n from query_table($relation)
