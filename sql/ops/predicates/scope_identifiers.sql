-- A row whose identifier set belongs to a customer of the run's dirty set, for a table with an
-- identifiers map and no customer (staging.profiles, for one).
identifiers::varchar in (
    select identifier_set from intermediate.identifier_sets
    where customer_id in (select customer_id from intermediate.dirty_customers)
)
