-- the newest event of every customer, the moment every funnel's censoring is measured against
-- (stored in intermediate.funnel_definitions; the marts compare the attempts' open_until_at with it)
select max(occurred_at) as as_of
from marts.journey_events;
