-- In the analyst file's connection: a row of a journey of a customer of temp table publish_scope
-- (a journey's customer as in scope_journey_id.sql).
split_part(journey_id, '-', 1) in (select customer_id from publish_scope)
