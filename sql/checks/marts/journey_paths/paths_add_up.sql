-- For each level and persona ('all' included), n_journeys over the paths of definition 'all' adds up to the
-- journeys of marts.journeys.
-- offending rows: (level, persona, sum of n_journeys over its paths, journeys)
with expected as (
    select
        persona,
        count(*) as n_journeys
    from marts.journeys
    group by all
    union all
    select
        'all' as persona,
        count(*) as n_journeys
    from marts.journeys
),

levels as (
    select unnest(['phase', 'touchpoint']) as level
),

observed as (
    select
        level,
        persona,
        sum(n_journeys) as n_journeys
    from marts.journey_paths
    where definition = 'all'
    group by all
)

select
    l.level,
    e.persona,
    coalesce(o.n_journeys, 0)::bigint as n_journeys_in_paths,
    e.n_journeys
from expected as e
cross join levels as l
left join observed as o on l.level = o.level and e.persona = o.persona
where coalesce(o.n_journeys, 0) <> e.n_journeys
order by l.level, e.persona
