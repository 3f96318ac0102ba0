-- the counted attempts of one funnel ($funnel) into the rows of intermediate.funnel_attempts
insert into funnel_attempt_rows
select
    $funnel as funnel,
    $unit as unit,
    unit_id,
    customer_id,
    journey_id,
    start_event_id,
    make_timestamp(start_t_us) as started_at,
    furthest_step::integer as furthest_step,
    make_timestamp(open_until_us) as open_until_at,
    is_excluded,
    list_transform(step_t_us, lambda t: make_timestamp(t)) as step_at,
    step_event_ids,
    make_timestamp(start_t_us + $window_us) as window_end_at
from funnel_counted_attempts;
