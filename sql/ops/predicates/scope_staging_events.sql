-- An event of staging.events in the run's scope. staging.events carries no customer, and reading
-- its identifiers to find them (cast to text, matched against the dirty customers' identifier
-- sets) costs a pass over every event's identifiers each night: the run's dirty-set step lists
-- the ids of a superset of its customers' events instead (intermediate._scope_events,
-- sql/ops/incremental/scope_events.sql), and the filter on the build's result keeps theirs.
event_id in (select event_id from intermediate._scope_events)
