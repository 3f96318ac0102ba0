-- A run finished. What the next run compares with moved on when this one started
-- (advance_tracking.sql, reset_tracking.sql); until this, the next run also rebuilds this one's
-- dirty set, in case it did not finish.
update intermediate._incremental_state
set pending = false, finished_at = now()::timestamp;
