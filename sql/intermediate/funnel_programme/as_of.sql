-- the newest event, the moment every funnel's censoring is measured against
select max(occurred_at) as as_of, epoch_us(max(occurred_at)) as as_of_us
from marts.journey_events;
