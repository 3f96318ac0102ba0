-- A digest of the customers of the dirty set $dirty (a relation name: the working file's
-- intermediate.dirty_customers, or work.intermediate.dirty_customers from the analyst file's
-- connection); equal digests, equal sets.
select md5(count(*)::varchar || ':' || coalesce(string_agg(customer_id, ',' order by customer_id), ''))
from query_table($dirty);
