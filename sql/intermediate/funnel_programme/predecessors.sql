-- before step $k: the states it may follow (steps $lo..$hi: back to the last required step),
-- ranked in (step desc, t, mask, used) order; and an empty list of transitions to fill
create or replace temp table funnel_predecessors as
select
    state_id,
    unit_id,
    t_us,
    used,
    n_at,
    start_rank,
    start_t_us,
    row_number() over (partition by unit_id order by step desc, t_us, mask, used) as pred_rank
from funnel_states
where step between $lo and $hi;

-- (unit_id of the predecessors' type: text for a unit, a number for a unit's week copy of
-- period_matches.sql)
create or replace temp table funnel_transitions as
select unit_id, null::bigint as cand, null::bigint[] as used, null::bigint as pkey
from funnel_predecessors
where false;
