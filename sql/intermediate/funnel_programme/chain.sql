-- the counted attempt: furthest step, the first to arrive there (earliest state), for that arrival
-- the most recent start that reaches it (PostHog's funnel UDF); then its chain back
create or replace temp table funnel_chain as
with recursive
reached as (
    select unit_id, max(step) as furthest_step
    from funnel_states
    group by unit_id
),

chosen as (
    select s.*
    from funnel_states as s
    inner join reached as r on s.unit_id = r.unit_id and s.step = r.furthest_step
    qualify row_number() over (
        partition by s.unit_id order by s.t_us, s.start_rank desc, s.mask, s.used
    ) = 1
),

chain as (
    select unit_id, state_id, pred_state_id, step, event_id, t_us from chosen
    union all
    select s.unit_id, s.state_id, s.pred_state_id, s.step, s.event_id, s.t_us
    from funnel_states as s
    inner join chain on s.state_id = chain.pred_state_id
)

select unit_id, step, event_id, t_us from chain;
