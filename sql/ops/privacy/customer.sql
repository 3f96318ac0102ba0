-- The customer $c, when identity.customer_ids knows it.
select distinct customer_id
from identity.customer_ids
where customer_id = $c
