-- A full run: every customer is in scope (kept for a person's inspection; the models build in full).
create or replace table intermediate.dirty_customers as
select distinct customer_id from intermediate.identifier_sets;

select count(*), 0 from intermediate.dirty_customers;
