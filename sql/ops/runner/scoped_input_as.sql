-- One input of a scoped build or a build in parts, where the query gave it no alias: its rows in
-- scope in place of the table, under the table's name (scope_inputs, part_inputs).
(select * from {relation} where {predicate}) as {alias}
