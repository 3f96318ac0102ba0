-- the states of step 1: every step-1 event (the first of its kind at its instant) that may start
-- an attempt (can_start) starts one
create or replace temp table funnel_states as
select
    (1::bigint << 40) + row_number() over (order by match_id) as state_id,  -- an order both engines give
    unit_id,
    1 as step,
    event_id,
    t_us,
    mask,
    [mask] as used,
    n_at,
    dense_rank() over (partition by unit_id order by t_us, mask) as start_rank,
    t_us as start_t_us,
    null::bigint as pred_state_id
from funnel_matches
where (smask & 1) <> 0 and mask_rank = 1 and can_start;
