-- quarantine.unread_files, replaced whole: every landing entry no source reads (found by run
-- $run at $at), one row per entry of the lists $source, $path, $kind, $day, $n, $reason.
create or replace table quarantine.unread_files (
    source varchar,
    path varchar not null,
    kind varchar not null,
    _partition date,
    n_files bigint not null,
    reason varchar not null,
    run_id varchar,
    found_at timestamp not null
);

insert into quarantine.unread_files
select
    unnest($source::varchar[]),
    unnest($path::varchar[]),
    unnest($kind::varchar[]),
    unnest($day::date[]),
    unnest($n::bigint[]),
    unnest($reason::varchar[]),
    $run,
    $at;
