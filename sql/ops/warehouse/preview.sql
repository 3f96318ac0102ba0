-- The first $n rows of relation $relation (a metadata preview).
select * from query_table($relation) limit $n;
