-- The batch's landed files: path $f, path relative to the landing folder $r, day $d, size $b.
insert into landing_files
select unnest($f::varchar[]), unnest($r::varchar[]), unnest($d::date[]), unnest($b::bigint[]), null,
    unnest($f::varchar[]);
