-- A scoped build's select, its result kept to the customers in scope by its key column (scoped_select).
select * from (
{select}
) where {predicate}
