-- How many records the batch parsed (sql/ingest/parse.sql).
select count(*) from parsed;
