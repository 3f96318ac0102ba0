-- The customers holding the stored identifier value $h.
select distinct customer_id
from identity.customer_ids
where identifier_value = $h
order by customer_id
