-- A row of a journey of a customer of the run's dirty set, for a table keyed by journey. A
-- journey's customer is its id up to the '-' before the journey's number (a customer id is 'c_'
-- and hex digits, sql/identity/customer_ids.sql, so has no '-'); split_part scans a 4.8M-row
-- table's ids in 0.38 s where left(…, length - strpos(reverse(…))) took 0.51 s (10M bench).
split_part(journey_id, '-', 1) in (select customer_id from intermediate.dirty_customers)
