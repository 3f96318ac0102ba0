-- The customers of a working file's scope table ($dirty: its dirty set, or a write's own table
-- of customers, see mark_scoped) as a temp table of the analyst file's connection (temp: never
-- written into the analyst file), for replacing only those customers' rows.
create or replace temp table publish_scope as
select distinct customer_id
from query_table($dirty);
