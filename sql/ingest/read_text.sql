-- The physical lines of the batch's text files, in one read_text pass over $paths: one row of
-- landing_rows per line, numbered from 1, a trailing carriage return and the empty line after
-- the last line break left out.
insert into landing_rows
with parts as (
    -- a UTF-8 byte order mark starts the first line of some exports: it is not text
    select
        filename,
        string_split(if(starts_with(content, chr(65279)), content[2:], content), chr(10)) as lines
    from read_text($paths)
),

numbered as (
    select filename, unnest(lines) as line, generate_subscripts(lines, 1) as n, len(lines) as total
    from parts
)

select lf.day, lf.rel, n, if(ends_with(line, chr(13)), line[:-2], line), strlen(line), null, $at
from numbered
join landing_files as lf on numbered.filename = lf.read_from
where not (n = total and line = '');
