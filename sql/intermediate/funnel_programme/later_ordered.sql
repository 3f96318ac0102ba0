-- transitions to a later instant, ordered mode: the best predecessor (most recent start, then
-- earliest state) among those at least $eff_min_us (min_gap, at least 1 microsecond) and at most
-- $span_us + $eff_min_us (max_gap; without one, $span_us is 2^62: every earlier state) earlier;
-- the window runs over narrow rows only. A transition's pkey is
-- start_rank * 2^32 + (2^32 - 1 - pred_rank): its max is the most recent start, then the first
-- predecessor.
-- With $prune (no max_gap on any step that may follow step k), a candidate whose best predecessor
-- already led to an earlier candidate is left out: that earlier state has the same start and
-- comes first in every order the programme uses (as a predecessor, and as the counted attempt),
-- and every later candidate it could lead to the earlier one leads to as well. Candidates at an
-- instant with other matched events are kept, for the same-instant transitions.
insert into funnel_transitions
select unit_id, cand, null::bigint[] as used, best_key as pkey
from (
    select
        unit_id,
        cand,
        is_shared_instant,
        max(pkey) over w as best_key,
        arg_max(key_t, pkey) over w as best_key_t,
        max(case when cand is not null then key_t end) over (
            partition by unit_id order by key_t range between unbounded preceding and 1 preceding
        ) as previous_cand_t
    from (
        select
            unit_id,
            t_us + $eff_min_us as key_t,
            start_rank * 4294967296 + (4294967295 - pred_rank) as pkey,
            null::bigint as cand,
            null::boolean as is_shared_instant
        from funnel_predecessors
        union all
        select unit_id, t_us, null, match_id, is_shared_instant
        from funnel_matches
        where ((smask >> ($k - 1)) & 1) = 1 and mask_rank = 1
    )
    window w as (partition by unit_id order by key_t range between $span_us preceding and current row)
)
where cand is not null
    and best_key is not null
    and not ($prune and not is_shared_instant and coalesce(best_key_t <= previous_cand_t, false));
