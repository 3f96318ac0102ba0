-- The journey events the funnel programme reads (funnel_journey_events), an incremental run: every
-- event of the run's customers (intermediate.dirty_customers), whose rows of the programme's keyed
-- tables are then replaced (transforms/incremental.py). A unit's attempts read only the unit's own
-- events, and a journey belongs to one customer, so these are all the events their units need.
create or replace temp table funnel_scoped_events as
select * from marts.journey_events
where customer_id in (select customer_id from intermediate.dirty_customers);

create or replace temp view funnel_journey_events as
select * from funnel_scoped_events;
