-- grain: one row per layer, source and target of the first $max_steps touchpoint steps
-- Sankey edges: journeys from '(start)' through their first steps to '(conversion)' or '(exit)'.
with journeys as (
    select string_split(touchpoint_path, ' > ') as steps, converted
    from marts.journeys
    where coalesce(touchpoint_path, '') <> ''
),

layered as (
    select
        unnest(range(0, least(len(steps), $max_steps) + 1)) as layer,
        least(len(steps), $max_steps) as n_drawn,
        steps,
        converted
    from journeys
),

final as (
    select
        layer,
        case when layer = 0 then '(start)' else steps[layer] end as source,
        case
            when layer < n_drawn then steps[layer + 1]
            when converted then '(conversion)'
            else '(exit)'
        end as target,
        layer = n_drawn as to_outcome,
        count(*) as n
    from layered
    group by all
)

select * from final
