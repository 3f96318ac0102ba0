-- Join the physical lines of a CSV record whose quoted field holds a line break (RFC 4180)
-- into one row of landing_rows, numbered by its first line. A line with an odd number of
-- quotes opens a quoted field that the next such line closes; the lines between belong to the
-- same record. A field still open at the end of the file is not joined (its lines keep their
-- own rows and are rejected for their unbalanced quotes), nor is a group holding a line that
-- already failed to load.
create or replace temp table csv_joined as
with marked as (
    select r.*, (strlen(payload) - strlen(replace(payload, '"', ''))) % 2 as odd
    from landing_rows as r
    semi join csv_odd_files using (_source_file)
),

opened as (
    select
        *,
        coalesce(sum(odd) over (
            partition by _source_file order by _line rows between unbounded preceding and 1 preceding
        ), 0) % 2 = 1 as continues
    from marked
),

grouped as (
    select *, sum(if(continues, 0, 1)) over (partition by _source_file order by _line) as record
    from opened
),

records as (
    select _source_file, record, min(_line) as first_line
    from grouped
    group by all
    having count(*) > 1 and sum(odd) % 2 = 0 and count(_load_error) = 0
)

select
    g._partition,
    g._source_file,
    r.first_line as _line,
    string_agg(g.payload, chr(10) order by g._line) as payload,
    sum(g._bytes) + count(*) - 1 as _bytes,
    null::varchar as _load_error,
    any_value(g._loaded_at) as _loaded_at,
    list(g._line) as lines
from grouped as g
join records as r using (_source_file, record)
group by all;

delete from landing_rows using (select _source_file, unnest(lines) as _line from csv_joined) as j
where landing_rows._source_file = j._source_file and landing_rows._line = j._line;

insert into landing_rows select * exclude (lines) from csv_joined;

drop table csv_joined;
