-- In the analyst file's connection: a row of a customer of temp table publish_scope (the dirty
-- set, copied there, never into the file), whose rows publish deletes and copies again.
customer_id in (select customer_id from publish_scope)
