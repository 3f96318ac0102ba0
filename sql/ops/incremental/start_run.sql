-- A run starts: its mode and why; pending until `finish` records what it covered.
delete from intermediate._incremental_state;

insert into intermediate._incremental_state
values ($mode, true, $built_through, $n_erasures, $reason);
