-- Every identifier of staging.events and staging.profiles has exactly one customer.
-- offending rows: one per identifier with several customers, none, or no row at all
with ids as (
    select
        identifier_type,
        identifier_value,
        count(*) as n_rows,
        count(customer_id) as n_customers
    from identity.customer_ids
    group by all
),

several_or_none as (
    select
        identifier_type,
        identifier_value,
        case when n_customers < n_rows then 'no customer' else 'several customers' end as problem
    from ids
    where n_rows > 1 or n_customers = 0
),

missing as (
    select
        n.identifier_type,
        n.identifier_value,
        'not in identity.customer_ids' as problem
    from intermediate.identity_nodes as n
    anti join identity.customer_ids as c using (identifier_type, identifier_value)
)

select * from several_or_none
union all
select * from missing
order by problem, identifier_type, identifier_value
