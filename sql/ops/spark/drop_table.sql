-- Spark SQL: a table's catalog entry, before it is registered again at its path.
drop table if exists identifier(:relation)
