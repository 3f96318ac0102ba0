-- Rows still $running of the stopped runs $runs get their outcome ($statuses, $messages,
-- $finished, in the order of $runs). A run whose failure hook marked some rows $failed (those
-- loaded before the error) is failed as a whole, with that error.
update marts.pipeline_runs as r
set
    status = o.status,
    finished_at = o.finished_at,
    message = case
        when r.n_accepted is null and o.status <> $ok
            then concat_ws(
                ' ', o.message,
                'Its records were replaced by a later load before they were staged: only n_read is known.'
            )
        else o.message
    end
from (
    select
        o.run_id,
        coalesce(f.status, o.status) as status,
        coalesce(f.message, o.message) as message,
        coalesce(f.finished_at, o.finished_at) as finished_at
    from (
        select
            unnest($runs::varchar[]) as run_id,
            unnest($statuses::varchar[]) as status,
            unnest($messages::varchar[]) as message,
            unnest($finished::timestamp[]) as finished_at
    ) as o
    left join (
        select
            run_id,
            any_value(status) as status,
            min(message) as message,
            max(finished_at) as finished_at
        from marts.pipeline_runs
        where status = $failed
        group by all
    ) as f using (run_id)
) as o
where r.run_id = o.run_id and r.status = $running
