-- transitions to a later instant, strict mode: only from the unit's previous instant, whose
-- events the attempt used up unless it is the attempt's first instant
insert into funnel_transitions
select
    c.unit_id,
    c.match_id as cand,
    null::bigint[] as used,
    max(p.start_rank * 4294967296 + (4294967295 - p.pred_rank)) as pkey
from funnel_predecessors as p
inner join funnel_matches as c on p.unit_id = c.unit_id and c.prev_t_us = p.t_us
where ((c.smask >> ($k - 1)) & 1) = 1
    and c.mask_rank = 1
    and (p.t_us = p.start_t_us or len(p.used) = p.n_at)
    and c.t_us - p.t_us >= $min_gap_us
    and ($max_gap_us is null or c.t_us - p.t_us <= $max_gap_us)
group by c.unit_id, c.match_id;
