-- grain: one row per classified phase
-- The phases present in the events, in their configured order: the journey map's columns.
select phase, min(phase_order) as phase_order
from marts.journey_events
where phase_order is not null
group by phase
order by phase_order, phase
