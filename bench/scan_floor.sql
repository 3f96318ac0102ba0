-- The scan floor: read every column of staging.events once (a hash of each row, summed).
select count(*), sum(hash(event_id, source, event_name, occurred_at, identifiers, url_path,
                         referrer, utm_source, utm_medium, device, channel, amount, csat, text))
from staging.events
