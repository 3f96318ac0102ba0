-- The working file $p, read-only, as `work`.
attach $p as work (read_only)
