-- transitions at the same instant: the next unused event of its kind (events matching the same
-- steps and exclusions)
insert into funnel_transitions
select unit_id, cand, used, max(pkey) as pkey
from (
    select
        c.unit_id,
        c.match_id as cand,
        list_sort(list_append(p.used, c.mask)) as used,
        p.start_rank * 4294967296 + (4294967295 - p.pred_rank) as pkey
    from funnel_predecessors as p
    inner join funnel_matches as c on p.unit_id = c.unit_id and c.t_us = p.t_us
    where ((c.smask >> ($k - 1)) & 1) = 1
        and c.mask_rank = len(list_filter(p.used, lambda m: m = c.mask)) + 1
)
group by unit_id, cand, used;
