-- grain: one row per phase and touchpoint, persona 'all' only
-- The heat grid from marts.touchpoint_health (which has no persona), when
-- marts.journey_events cannot be read.
select
    'all' as persona_key,
    phase,
    touchpoint,
    null as stage,
    n_events,
    n_customers,
    null as phase_customers,
    n_customers / sum(n_customers) over (partition by phase) as share
from marts.touchpoint_health
where phase <> 'unclassified'
