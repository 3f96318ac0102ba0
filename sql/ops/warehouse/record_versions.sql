-- _journeys.published_tables: the version of each table the analyst file now holds.
create schema if not exists _journeys;

create or replace table _journeys.published_tables as
select
    unnest($relation::varchar[]) as relation,
    unnest($version::varchar[]) as version,
    unnest($n_rows::bigint[]) as n_rows,
    unnest($ddl_md5::varchar[]) as ddl_md5,
    now()::timestamp as published_at;

comment on table _journeys.published_tables is
'Bookkeeping of journeys publish: one row per published table, with the version of the working table it holds. Not for analysis.';
