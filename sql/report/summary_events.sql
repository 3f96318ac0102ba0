-- grain: one row
-- Header numbers from the events: data period, events, events no rule classified.
select
    min(occurred_at) as first_at,
    max(occurred_at) as last_at,
    count(*) as n_events,
    count(*) filter (where touchpoint = 'unclassified') as n_unclassified
from marts.journey_events
