-- A row of a customer of the run's dirty set (intermediate.dirty_customers), for a table with a
-- customer_id: a scoped build reads only these rows of each input and replaces only these rows
-- of its target (transforms.warehouse.SCOPE_PREDICATES).
customer_id in (select customer_id from intermediate.dirty_customers)
