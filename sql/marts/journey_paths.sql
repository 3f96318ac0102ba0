-- grain: one row per level ('phase', 'touchpoint'), persona ('all' included) and cleaned path
-- depends on: marts.journeys
-- Observed path variants with their volume and outcome. Cleaning ($drop_touchpoints at touchpoint
-- level; $first_occurrence_only and $max_path_steps at both levels) is applied to the collapsed
-- paths of marts.journeys, collapsing repeats again after a drop.
with journeys as (
    select
        journey_id, customer_id, persona, converted, revenue, duration_seconds,
        phase_path, touchpoint_path
    from marts.journeys
),

by_level as (
    select
        'phase' as level, journey_id, customer_id, persona, converted, revenue, duration_seconds,
        string_split(phase_path, ' > ') as steps
    from journeys
    union all
    select
        'touchpoint' as level, journey_id, customer_id, persona, converted, revenue, duration_seconds,
        list_filter(
            string_split(touchpoint_path, ' > '),
            lambda t: not list_contains($drop_touchpoints::varchar[], t)
        ) as steps
    from journeys
),

-- a drop can make two equal steps meet: collapse them again
recollapsed as (
    select
        * exclude (steps),
        list_filter(steps, lambda s, i: i = 1 or s <> steps[i - 1]) as steps
    from by_level
),

first_occurrences as (
    select
        * exclude (steps),
        case
            when $first_occurrence_only
                then list_filter(steps, lambda s, i: list_position(steps, s) = i)
            else steps
        end as steps
    from recollapsed
),

-- a path of more than N = $max_path_steps steps keeps its first ceil(N/2) and last floor(N/2)
-- steps around '…'
shortened as (
    select
        * exclude (steps),
        case
            when len(steps) > $max_path_steps
                then list_concat(
                    steps[1:($max_path_steps + 1) // 2],
                    ['…'],
                    steps[-($max_path_steps // 2):]
                )
            else steps
        end as steps
    from first_occurrences
),

cleaned as (
    select
        * exclude (steps),
        coalesce(nullif(array_to_string(steps, ' > '), ''), '(none)') as path
    from shortened
),

aggregated as (
    select
        level,
        case when grouping(persona) = 1 then 'all' else persona end as persona,
        path,
        count(*) as n_journeys,
        count(distinct customer_id) as n_customers,
        count(*) filter (where converted) as n_converted,
        coalesce(sum(revenue), 0) as revenue,
        median(duration_seconds) as median_duration_seconds
    from cleaned
    group by grouping sets ((level, persona, path), (level, path))
),

final as (
    select
        -- keys
        level,
        persona,
        path,
        -- volume
        n_journeys,
        n_customers,
        n_journeys / sum(n_journeys) over (partition by level, persona) as share,
        -- outcome
        n_converted,
        n_converted / n_journeys as conversion_rate,
        revenue,
        median_duration_seconds
    from aggregated
)

select * from final
order by level, persona, n_journeys desc, path
