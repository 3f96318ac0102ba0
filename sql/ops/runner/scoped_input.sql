-- One input of a scoped build or a build in parts: its rows in scope, in place of the table (scope_inputs, part_inputs).
(select * from {relation} where {predicate})
