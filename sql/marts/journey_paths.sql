-- grain: one row per path definition ('all' included), level ('phase', 'touchpoint'), persona ('all' included) and cleaned path
-- depends on: intermediate.journey_path_variants
-- Observed path variants with their volume and outcome. Definition 'all': every journey's whole
-- path, cleaned ($drop_touchpoints at touchpoint level; $first_occurrence_only and
-- $max_path_steps at both levels). The configured definitions (settings.journeys.paths, bound
-- as rows) cut each path at a start and/or end point (a touchpoint or phase, or the step in which
-- a named event happened), leave out their excluded steps and keep a step limit, as PostHog Paths
-- and Amplitude Pathfinder do. Repeats that meet after a step is left out collapse again.
-- Each journey's path is cut in intermediate.journey_path_variants; here they are only counted.
with cleaned as (
    select definition, level, journey_id, customer_id, persona, converted, revenue, duration_seconds, path
    from intermediate.journey_path_variants
),

aggregated as (
    select
        definition,
        level,
        case when grouping(persona) = 1 then 'all' else persona end as persona,
        path,
        count(*) as n_journeys,
        count(distinct customer_id) as n_customers,
        count(*) filter (where converted) as n_converted,
        coalesce(sum(revenue), 0) as revenue,
        median(duration_seconds) as median_duration_seconds
    from cleaned
    group by grouping sets ((definition, level, persona, path), (definition, level, path))
),

final as (
    select
        -- keys
        definition,
        level,
        persona,
        path,
        -- volume
        n_journeys,
        n_customers,
        n_journeys / sum(n_journeys) over (partition by definition, level, persona) as share,
        -- outcome
        n_converted,
        n_converted / n_journeys as conversion_rate,
        revenue,
        median_duration_seconds
    from aggregated
)

select * from final
order by definition <> 'all', definition, level, persona, n_journeys desc, path
