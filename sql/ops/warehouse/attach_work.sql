-- In the analyst file's connection: the working file $p, read-only, as `work`.
attach $p as work (read_only);
