-- A select with its DOUBLE columns rounded to 12 significant digits (deterministic): {columns} are round_double's.
select * replace ({columns}) from (
{select}
)
