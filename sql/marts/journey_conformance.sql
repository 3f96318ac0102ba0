-- grain: one row per journey and designed journey it entered
-- depends on: intermediate.design_alignments, intermediate.design_deviations,
--             intermediate.design_moves, intermediate.design_steps, marts.journeys
-- How each journey keeps to each design of its persona (designs.yaml): whether it fits, its
-- alignment-based fitness (1 - deviation cost / worst cost, as in process mining) and its
-- deviations, with the journey's outcome.
with alignments as (
    select design, journey_id, customer_id, n_moves, cost, path from intermediate.design_alignments
),

deviations as (
    select design, journey_id, kind, step, location, move_index, seconds
    from intermediate.design_deviations
),

moves as (
    select design, journey_id, min(started_at) as entered_at
    from intermediate.design_moves
    group by design, journey_id
),

design_steps as (
    select
        design,
        count(*) filter (where not is_optional) as n_required_steps
    from intermediate.design_steps
    group by design
),

journeys as (
    select journey_id, persona, converted, converted_at from marts.journeys
),

per_journey as (
    select
        design,
        journey_id,
        count(*) filter (where kind = 'skipped_step') as n_skipped_steps,
        count(*) filter (where kind = 'out_of_order') as n_out_of_order,
        count(*) filter (where kind = 'unplanned_touchpoint') as n_unplanned_touchpoints,
        count(*) filter (where kind = 'stall') as n_stalls,
        list_sort(list({
            'kind': kind, 'location': location, 'move_index': move_index, 'step': step, 'seconds': seconds
        })) as deviations
    from deviations
    group by design, journey_id
),

final as (
    select
        -- keys
        a.design,
        a.journey_id,
        a.customer_id,
        j.persona,
        -- conformance
        coalesce(p.n_skipped_steps, 0) + coalesce(p.n_out_of_order, 0)
        + coalesce(p.n_unplanned_touchpoints, 0) + coalesce(p.n_stalls, 0) = 0 as fits,
        1 - a.cost / (a.n_moves + s.n_required_steps) as fitness,
        a.cost as alignment_cost,
        a.n_moves,
        a.n_moves - coalesce(p.n_out_of_order, 0) - coalesce(p.n_unplanned_touchpoints, 0) as n_followed_moves,
        s.n_required_steps,
        coalesce(p.n_skipped_steps, 0) as n_skipped_steps,
        coalesce(p.n_out_of_order, 0) as n_out_of_order,
        coalesce(p.n_unplanned_touchpoints, 0) as n_unplanned_touchpoints,
        coalesce(p.n_stalls, 0) as n_stalls,
        coalesce(p.deviations, []) as deviations,
        -- outcome
        m.entered_at,
        j.converted,
        j.converted_at,
        epoch(j.converted_at - m.entered_at) as seconds_to_convert
    from alignments as a
    inner join design_steps as s on a.design = s.design
    inner join moves as m
        on a.design = m.design
        and a.journey_id = m.journey_id
    left join per_journey as p
        on a.design = p.design
        and a.journey_id = p.journey_id
    left join journeys as j on a.journey_id = j.journey_id
)

select * from final
