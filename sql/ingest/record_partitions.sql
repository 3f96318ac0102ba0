-- The ledger: the landing days of source $source just loaded, with their files' fingerprint,
-- how many files and records were read, and by which run.
insert or replace into raw._partitions
select
    $source,
    unnest($days::date[]),
    unnest($fps::varchar[]),
    unnest($nfs::integer[]),
    unnest($nls::bigint[]),
    $run,
    $started,
    $at;
