-- The header line of each CSV file of the batch, split into column names on delimiter $d
-- ($fre: one field, quoted or not, followed by the delimiter).
select
    _source_file,
    _load_error,
    list_transform(
        regexp_extract_all(payload || $d, $fre, 1),
        lambda x: trim(case when x like '"%' then replace(x[2:-2], '""', '"') else x end)
    ) as cols
from landing_rows
where _line = 1;
