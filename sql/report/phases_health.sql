-- grain: one row per classified phase
-- The phases of marts.touchpoint_health, when marts.journey_events cannot be read.
select distinct phase from marts.touchpoint_health where phase <> 'unclassified'
