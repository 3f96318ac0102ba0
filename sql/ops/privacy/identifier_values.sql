-- Every stored identifier value of the customers $c.
select distinct identifier_value
from identity.customer_ids
where list_contains($c, customer_id)
