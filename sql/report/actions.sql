-- grain: one row per persona ('all' included), phase and one of its $top most frequent event names
-- The top customer actions of each journey-map column.
with counts as (
    select
        case when grouping(persona) = 1 then 'all' else coalesce(persona, 'unknown') end as persona_key,
        phase,
        event_name,
        count(*) as n_events
    from marts.journey_events
    where phase_order is not null
    group by grouping sets ((persona, phase, event_name), (phase, event_name))
),

final as (
    select
        persona_key,
        phase,
        event_name,
        n_events,
        n_events / sum(n_events) over (partition by persona_key, phase) as share,
        row_number() over (
            partition by persona_key, phase order by n_events desc, event_name
        ) as action_rank
    from counts
)

select * from final where action_rank <= $top
