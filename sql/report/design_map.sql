-- The designed journey beside the observed one (future against current state): one row per
-- design step, in order, with how the design's journeys keep to it. The steps come from
-- designs.yaml as bound lists ($design_step_*, transforms.designs.design_params); what the
-- journeys do comes from marts.journey_conformance and marts.design_gaps.
with steps as (
    select
        unnest($design_step_design::varchar[]) as design,
        unnest($design_step_persona::varchar[]) as persona,
        unnest($design_step_description::varchar[]) as description,
        unnest($design_step_index::integer[]) as step,
        unnest($design_step_name::varchar[]) as step_name,
        unnest($design_step_optional::boolean[]) as is_optional,
        unnest($design_step_repeatable::boolean[]) as is_repeatable,
        unnest($design_step_target_seconds::double[]) as target_seconds
),

designs as (
    select
        design,
        count(*) as n_journeys,
        count(distinct customer_id) as n_customers,
        avg(fitness) as avg_fitness,
        avg(fits::integer) as share_fitting,
        avg(converted::integer) as conversion_rate
    from marts.journey_conformance
    group by design
),

gaps as (
    select design, kind, location, n_journeys from marts.design_gaps
),

final as (
    select
        s.design,
        s.persona,
        s.description,
        s.step,
        s.step_name,
        s.is_optional,
        s.is_repeatable,
        s.target_seconds,
        coalesce(d.n_journeys, 0) as n_journeys,
        coalesce(d.n_customers, 0) as n_customers,
        d.avg_fitness,
        d.share_fitting,
        d.conversion_rate,
        coalesce(skipped.n_journeys, 0) as n_journeys_skipping,
        coalesce(stalled.n_journeys, 0) as n_journeys_stalling,
        case when s.is_optional then null else 1 - coalesce(skipped.n_journeys, 0) / d.n_journeys end
            as share_reaching
    from steps as s
    left join designs as d on s.design = d.design
    left join gaps as skipped
        on s.design = skipped.design
        and skipped.kind = 'skipped_step'
        and s.step_name = skipped.location
    left join gaps as stalled
        on s.design = stalled.design
        and stalled.kind = 'stall'
        and s.step_name = stalled.location
)

select * from final
order by design, step
