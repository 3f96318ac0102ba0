-- The records of the batch's Parquet files $files: one row of landing_rows per record, as JSON.
insert into landing_rows
select lf.day, lf.rel, file_row_number + 1, j, strlen(j), null, $at
from (
    select
        filename,
        file_row_number,
        to_json(struct_pack(*columns(* exclude (filename, file_row_number))))::varchar as j
    from read_parquet($files, filename = true, file_row_number = true, union_by_name = true)
) as p
join landing_files as lf on p.filename = lf.f;
