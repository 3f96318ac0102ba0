-- any_order: the largest matching of steps to the counted events of each vector of counts in
-- $vectors (a table with a cnts column): min over step sets S of n - |S| + |N(S)| (Hall)
create or replace temp table funnel_matching_sizes as
with vectors as (
    select distinct cnts from query_table($vectors)
)

select
    cnts,
    min(
        $n - bit_count(s) + list_sum(list_transform(
            range(1, len(cnts) + 1),
            lambda i: case when (($masks::bigint[])[i] & s) <> 0 then cnts[i] else 0 end
        ))
    ) as size
from vectors, range(0, $n_subsets) as subsets(s)
group by cnts;
