-- The run's dirty set written (intermediate.dirty_customers, from temp table found). Returns
-- how many customers, and whether an event with no customer was touched (a null row).
create or replace table intermediate.dirty_customers as
select customer_id from found;

select count(*), count(*) filter (where customer_id is null) from intermediate.dirty_customers;
