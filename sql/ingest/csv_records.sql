-- The CSV rows of the batch (payload = the row's text) as JSON records keyed by their file's
-- header. A row with a wrong field count or broken quoting keeps its text and gets a load
-- error, as does every row of a file whose header lacks a required column.
create or replace temp table landing_csv as
with parsed as (
    select
        r.*,
        h.cols,
        h.problem,
        -- most rows have no quote at all: a plain split, no regular expression
        case
            when not contains(r.payload, '"') then string_split(r.payload, $d)
            else list_transform(
                regexp_extract_all(r.payload || $d, $fre, 1),
                lambda x: case when x like '"%' then replace(x[2:-2], '""', '"') else x end
            )
        end as vals,
        not contains(r.payload, '"')
            or array_to_string(regexp_extract_all(r.payload || $d, $wre), '') = r.payload || $d as quoted_ok
    from landing_rows as r
    join csv_headers as h on r._source_file = h.rel
)

select
    _partition,
    _source_file,
    _line,
    case
        when _load_error is null and problem is null and quoted_ok and len(vals) = len(cols)
            then to_json(map_from_entries(list_zip(cols, vals)))::varchar
        else payload
    end as payload,
    _bytes,
    case
        when _load_error is not null then _load_error
        when problem is not null then problem
        when not quoted_ok then 'the CSV row has unbalanced quotes'
        when len(vals) <> len(cols) then 'the CSV row has ' || len(vals) || ' fields; the header has ' || len(cols)
    end as _load_error,
    _loaded_at
from parsed;

delete from landing_rows;

insert into landing_rows select * from landing_csv;

drop table landing_csv;
