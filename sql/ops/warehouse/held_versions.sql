-- What the analyst file's bookkeeping says it holds.
select relation, version, n_rows, ddl_md5 from _journeys.published_tables;
