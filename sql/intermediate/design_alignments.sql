-- grain: one row per journey and design it entered
-- depends on: intermediate.design_moves, intermediate.design_steps
-- An optimal alignment of each journey's trace against its design, as in process mining: every
-- move either follows a step (a synchronous move, cost 0) or deviates (a log move, cost 1), and
-- every required step the alignment passes over is skipped (a model move, cost 1; an optional
-- step costs 0). A repeatable step may follow itself. Dynamic programming, set-based: a recursive
-- CTE advances all journeys one move at a time, keeping per (journey, design, last step met) the
-- cheapest path; ties go to the smallest path, compared as a list, so the result is deterministic.
-- path[i] is the step move i follows, 0 for a deviating move.
with recursive moves as (
    select design, journey_id, move_index, matched_steps from intermediate.design_moves
),

design_steps as (
    select design, step, is_optional, is_repeatable, n_steps from intermediate.design_steps
),

-- states: 0 = before step 1; targets: the steps, and n_steps + 1 = the end of the design
states as (
    select design, step from design_steps
    union all
    select distinct design, 0 as step from design_steps
),

targets as (
    select design, step from design_steps
    union all
    select distinct design, n_steps + 1 as step from design_steps
),

-- from a state to a later target, the required steps passed over (skipped)
passes as (
    select
        s.design,
        s.step as from_step,
        t.step as to_step,
        count(r.step) as n_skipped
    from states as s
    inner join targets as t
        on s.design = t.design
        and t.step > s.step
    left join design_steps as r
        on s.design = r.design
        and r.step > s.step
        and r.step < t.step
        and not r.is_optional
    group by s.design, s.step, t.step
),

-- what one move can do from a state: deviate (stay, cost 1), follow a later step (cost: the
-- required steps skipped on the way), or follow the same repeatable step again (cost 0)
transitions as (
    select design, step as from_step, step as to_step, 1 as cost, true as is_log_move
    from states
    union all
    select design, from_step, to_step, n_skipped as cost, false as is_log_move
    from passes
    where to_step <= (select max(step) from design_steps as d where d.design = passes.design)
    union all
    select design, step as from_step, step as to_step, 0 as cost, false as is_log_move
    from design_steps
    where is_repeatable
),

alignment (design, journey_id, move_index, state, cost, path) as (
    select distinct design, journey_id, 0, 0, 0, []::integer[]
    from moves
    union all
    select
        a.design,
        a.journey_id,
        a.move_index + 1,
        t.to_step,
        min(a.cost + t.cost),
        arg_min(
            list_append(a.path, case when t.is_log_move then 0 else t.to_step end),
            {'cost': a.cost + t.cost, 'path': list_append(a.path, case when t.is_log_move then 0 else t.to_step end)}
        )
    from alignment as a
    inner join moves as m
        on a.design = m.design
        and a.journey_id = m.journey_id
        and m.move_index = a.move_index + 1
    inner join transitions as t
        on a.design = t.design
        and a.state = t.from_step
        and (t.is_log_move or list_contains(m.matched_steps, t.to_step))
    group by a.design, a.journey_id, a.move_index + 1, t.to_step
),

n_moves as (
    select design, journey_id, any_value(customer_id) as customer_id, max(move_index) as n_moves
    from intermediate.design_moves
    group by design, journey_id
),

-- at the end of the trace, the required steps after the last one met are skipped too
finished as (
    select
        a.design,
        a.journey_id,
        n.customer_id,
        n.n_moves,
        a.cost + p.n_skipped as cost,
        a.path
    from alignment as a
    inner join n_moves as n
        on a.design = n.design
        and a.journey_id = n.journey_id
        and a.move_index = n.n_moves
    inner join design_steps as d
        on a.design = d.design
        and d.step = 1
    inner join passes as p
        on a.design = p.design
        and a.state = p.from_step
        and p.to_step = d.n_steps + 1
),

final as (
    select
        design,
        journey_id,
        any_value(customer_id) as customer_id,
        any_value(n_moves) as n_moves,
        min(cost) as cost,
        arg_min(path, {'cost': cost, 'path': path}) as path
    from finished
    group by design, journey_id
)

select * from final
