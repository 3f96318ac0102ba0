-- A full run: every customer is in scope (kept for a person's inspection; the models build in full).
create or replace table intermediate.dirty_customers as
select distinct customer_id from intermediate.identifier_sets;

-- the events in scope (scope_events.sql) are read by scoped builds only: none in a full run
create or replace table intermediate._scope_events (event_id varchar);

select count(*), 0 from intermediate.dirty_customers;
