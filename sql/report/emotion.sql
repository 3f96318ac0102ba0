-- grain: one row per persona ('all' included) and phase
-- The emotion curve: average sentiment over the events that carry one, and the negative share.
select
    case when grouping(persona) = 1 then 'all' else coalesce(persona, 'unknown') end as persona_key,
    phase,
    avg(sentiment) as avg_sentiment,
    count(sentiment) as n_scored,
    avg(case when sentiment < 0 then 1.0 else 0.0 end) filter (where sentiment is not null)
        as negative_share
from marts.journey_events
where phase_order is not null
group by grouping sets ((persona, phase), (phase))
