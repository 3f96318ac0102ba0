-- The working file's dirty set ($dirty) as a temp table of the analyst file's connection (temp:
-- never written into the analyst file), for replacing only those customers' rows.
create or replace temp table publish_scope as
select distinct customer_id
from query_table($dirty);
