-- the counted attempt's chain back from the state it ends in (chosen_states.sql)
create or replace temp table funnel_chain as
with recursive
chain as (
    select unit_id, state_id, pred_state_id, step, event_id, t_us from funnel_chosen_states
    union all
    select s.unit_id, s.state_id, s.pred_state_id, s.step, s.event_id, s.t_us
    from funnel_states as s
    inner join chain on s.state_id = chain.pred_state_id
)

select unit_id, step, event_id, t_us from chain;
