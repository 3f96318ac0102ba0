-- the state each unit's counted attempt ends in: the furthest step, the first to arrive there
-- (earliest state), for that arrival the most recent start that reaches it (PostHog's funnel
-- UDF); chain.sql walks its chain back, period_chosen.sql reads a week's row off it
create or replace temp table funnel_chosen_states as
with reached as (
    select unit_id, max(step) as furthest_step
    from funnel_states
    group by unit_id
)

select s.*
from funnel_states as s
inner join reached as r on s.unit_id = r.unit_id and s.step = r.furthest_step
qualify row_number() over (
    partition by s.unit_id order by s.t_us, s.start_rank desc, s.mask, s.used
) = 1;
