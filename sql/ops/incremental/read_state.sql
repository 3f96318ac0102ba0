-- The last run's state (at most one row).
select mode, pending, built_through, n_erasures from intermediate._incremental_state;
