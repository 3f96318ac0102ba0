-- the rows of every funnel, filled funnel by funnel
create or replace temp table funnel_attempt_rows (
    funnel varchar, unit varchar, unit_id varchar, customer_id varchar, journey_id varchar,
    start_event_id varchar, started_at timestamp, furthest_step integer, status varchar,
    is_excluded boolean, step_at timestamp [], step_event_ids varchar [], window_end_at timestamp
);

create or replace temp table funnel_period_rows (
    funnel varchar, unit_id varchar, customer_id varchar, period_start date, started_at timestamp,
    furthest_step integer, status varchar, is_excluded boolean
);

create or replace temp table funnel_value_rows (
    funnel varchar, unit_id varchar, breakdown varchar, breakdown_value varchar
);
