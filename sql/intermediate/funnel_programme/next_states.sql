-- the states of step $k: each transition from its best predecessor, inside the attempt's window
insert into funnel_states
with transitions as (
    select
        *,
        4294967295 - (pkey % 4294967296) as pred_rank
    from funnel_transitions
)

select
    ($k::bigint << 40) + row_number() over (order by c.match_id, s.used) as state_id,  -- one row per (match, used)
    c.unit_id,
    $k::integer as step,
    c.event_id,
    c.t_us,
    c.mask,
    coalesce(s.used, [c.mask]) as used,
    c.n_at,
    p.start_rank,
    p.start_t_us,
    p.state_id as pred_state_id
from transitions as s
inner join funnel_predecessors as p on s.unit_id = p.unit_id and s.pred_rank = p.pred_rank
inner join funnel_matches as c on s.cand = c.match_id
where c.t_us - p.start_t_us <= $window_us;
