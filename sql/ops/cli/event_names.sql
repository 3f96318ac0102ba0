-- The event names that occur in staging.events, per source.
select
    source,
    event_name
from staging.events
where event_name is not null
group by all
