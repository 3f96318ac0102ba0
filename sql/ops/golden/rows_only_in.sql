-- How many rows of the table $left are not in the table $right, as a multiset (except all),
-- comparing the columns $doubles (DOUBLE or FLOAT) at 12 significant digits and the columns
-- $others as they are; the two tables have these columns with the same types. A constant pad
-- column in each group keeps either group from being empty.
with left_rows as (
    select
        *,
        0::double as _pad_double,
        0 as _pad_other
    from query_table($left)
),

right_rows as (
    select
        *,
        0::double as _pad_double,
        0 as _pad_other
    from query_table($right)
),

only_left as (
    select
        sig12(columns(lambda c: list_contains($doubles, c) or c = '_pad_double')),
        columns(lambda c: list_contains($others, c) or c = '_pad_other')
    from left_rows
    except all
    select
        sig12(columns(lambda c: list_contains($doubles, c) or c = '_pad_double')),
        columns(lambda c: list_contains($others, c) or c = '_pad_other')
    from right_rows
)

select count(*) as n from only_left
