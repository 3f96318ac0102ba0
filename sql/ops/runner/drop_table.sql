-- A table publish rewrites whole, or one the models no longer write.
drop table {relation}
