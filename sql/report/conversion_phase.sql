-- grain: one row: the phase where most conversions happen
-- Exits in phases after this one end a journey that already converted or is in use: not pain.
select phase, min(phase_order) as phase_order, count(*) as n_conversions
from marts.journey_events
where is_conversion and phase_order is not null
group by phase
order by n_conversions desc, phase_order
limit 1
