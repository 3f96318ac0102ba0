-- One DOUBLE column {column} rounded to 12 significant digits (null, zero, NaN and infinities as they are).
case when {column} is null or {column} = 0 or isnan({column}) or isinf({column}) then {column}
else round({column}, (11 - floor(log10(abs({column}))))::integer) end as {column}
