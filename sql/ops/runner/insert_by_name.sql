-- A scoped build's rows of the customers in scope, added to its table (replace_scope).
insert into {relation} by name
{select}
