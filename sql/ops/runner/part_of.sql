-- A row filter of one part of a build in parts (warehouse.part_inputs): the rows whose key hashes
-- into part {part} of {parts}. Written `in (...)`, not `=`: DuckDB 2.0 estimates `<expression> =
-- <constant>` at ~2 rows, which turned the join around at 10M events (the wide staging.events
-- became the hash table's side and ran out of memory at 6GB); `in` keeps the estimate, and the
-- plan, of the whole statement's.
hash({key}) % {parts} in ({part})
