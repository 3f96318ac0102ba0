-- The last run, if it finished: when, with which configuration, and how many erasures it saw
-- (no row when none finished).
select finished_at, config_digest, n_erasures
from intermediate._incremental_state
where not pending and finished_at is not null;
