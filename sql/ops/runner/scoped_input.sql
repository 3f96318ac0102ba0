-- One input of a scoped build: its rows of the customers in scope, in place of the table (scope_inputs).
(select * from {relation} where {predicate})
