-- grain: one row per persona ('all' included), phase and touchpoint with scored events
-- The emotion curve's points inside each phase: average sentiment per touchpoint where events
-- carry one, so the curve follows the journey step by step, not one dot per phase.
select
    case when grouping(persona) = 1 then 'all' else coalesce(persona, 'unknown') end as persona_key,
    phase,
    touchpoint,
    min(phase_order) as phase_order,
    avg(sentiment) as avg_sentiment,
    count(sentiment) as n_scored,
    median(step_index) as median_step
from marts.journey_events
where phase_order is not null and sentiment is not null
group by grouping sets ((persona, phase, touchpoint), (phase, touchpoint))
order by persona_key, phase_order, median_step, touchpoint
