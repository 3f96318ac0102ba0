-- In the analyst file's connection: a row of staging.events whose id moved to or from another
-- landing day (temp table publish_moved_ids), replaced by event id as well as by day.
event_id in (select event_id from publish_moved_ids)
