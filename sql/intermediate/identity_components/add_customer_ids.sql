-- identity, incremental: the rows of identity.customer_ids of the recomputed nodes (the affected
-- components, intermediate._identity_affected) and of the new identifiers replaced, by the rule
-- of sql/identity/customer_ids.sql. Each recomputed component is whole among them, so its
-- smallest identifier_key is found here. intermediate._identity_old_customers keeps the
-- customers the replaced rows had.
create or replace table intermediate._identity_redo as
select n.node_id, n.identifier_type, n.identifier_value, n.identifier_key, n.is_shared
from intermediate.identity_nodes as n
where n.node_id in (
    select node_id from intermediate._identity_affected
    union
    select node_id from intermediate._identity_new_nodes
);

-- the customers they had: the identifier sets of those customers may change customer
-- (add_identifier_sets.sql)
create or replace table intermediate._identity_old_customers as
select distinct c.customer_id
from identity.customer_ids as c
semi join intermediate._identity_redo using (identifier_type, identifier_value);

delete from identity.customer_ids as c
using intermediate._identity_redo as r
where c.identifier_type = r.identifier_type
    and c.identifier_value = r.identifier_value;

insert into identity.customer_ids by name
with rooted as (
    select
        r.identifier_type,
        r.identifier_value,
        r.identifier_key,
        r.is_shared,
        coalesce(c.component_node_id, r.node_id) as root_node_id
    from intermediate._identity_redo as r
    left join intermediate.identity_components as c on r.node_id = c.node_id
),

roots as (
    select
        root_node_id,
        min(identifier_key) as root_key
    from rooted
    group by root_node_id
)

select
    r.identifier_type,
    r.identifier_value,
    'c_' || left(sha256(roots.root_key), 16) as customer_id,
    r.is_shared
from rooted as r
inner join roots on r.root_node_id = roots.root_node_id;

-- the customers whose rows were replaced, as they were and as they are: every row that changed
-- is a row of a recomputed or new identifier, so the analyst file's copy of
-- identity.customer_ids becomes this file's by replacing these customers' rows (mark_scoped).
-- Not the run's dirty set: a newly shared identifier becomes its own customer, which need not be
-- the customer of any identifier set.
create or replace table intermediate._identity_scope as
select customer_id from intermediate._identity_old_customers
union
select c.customer_id
from identity.customer_ids as c
semi join intermediate._identity_redo using (identifier_type, identifier_value);
