-- the rows of every funnel, filled funnel by funnel. No row stores a status that depends on the
-- newest event (as_of moves every night, also for the customers a run does not rebuild):
-- open_until_at is when the attempt stops being in its window (its window's end), null when it
-- never can be (converted, or in strict mode broken by a later event of the unit); the marts
-- compare it with funnel_definitions.as_of
create or replace temp table funnel_attempt_rows (
    funnel varchar, unit varchar, unit_id varchar, customer_id varchar, journey_id varchar,
    start_event_id varchar, started_at timestamp, furthest_step integer, open_until_at timestamp,
    is_excluded boolean, step_at timestamp [], step_event_ids varchar [], window_end_at timestamp
);

create or replace temp table funnel_period_rows (
    funnel varchar, unit_id varchar, customer_id varchar, period_start date, started_at timestamp,
    furthest_step integer, open_until_at timestamp, is_excluded boolean
);

create or replace temp table funnel_value_rows (
    funnel varchar, unit_id varchar, customer_id varchar, breakdown varchar, breakdown_value varchar
);
