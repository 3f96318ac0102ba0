-- The rows of a table that a condition holds for, removed (delete_rows).
delete from {relation} where {where}
