-- A run starts: its mode and why, and the configuration it runs with; pending until `finish`
-- records what it covered.
delete from intermediate._incremental_state;

insert into intermediate._incremental_state (mode, pending, built_through, n_erasures, reason, config_digest)
values ($mode, true, $built_through, $n_erasures, $reason, $config_digest);
