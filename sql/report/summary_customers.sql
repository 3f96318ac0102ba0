-- grain: one row
-- Header number: customers.
select count(*) as n_customers from marts.customers
