-- identity, incremental: intermediate.identity_nodes gains the identifiers of the new sets, numbered
-- after the largest node id (node ids stay as they were: they are never published, and a
-- customer's id comes from its smallest identifier_key, not from a node id); the identifiers of
-- the new pairs (intermediate._identity_touched) are counted again and flagged shared when they
-- now exceed $max_linked (the same rule as sql/intermediate/identity_nodes.sql). Links only
-- grow in an incremental build, so a flag only turns shared. intermediate._identity_recount
-- keeps each touched node's flag before and after.
create or replace table intermediate._identity_new_nodes as
with members as (
    select distinct
        unnest(map_keys(identifiers)) as identifier_type,
        unnest(map_values(identifiers)) as identifier_value
    from intermediate._identity_new_sets
),

fresh as (
    select m.*
    from members as m
    anti join intermediate.identity_nodes as n using (identifier_type, identifier_value)
)

select
    (select coalesce(max(node_id), 0) from intermediate.identity_nodes)
    + row_number() over (order by identifier_type || ':' || identifier_value) as node_id,
    identifier_type,
    identifier_value,
    identifier_type || ':' || identifier_value as identifier_key
from fresh;

insert into intermediate.identity_nodes by name
select
    node_id,
    identifier_type,
    identifier_value,
    identifier_key,
    0::bigint as n_linked,
    null::varchar as most_linked_type,
    0 > $max_linked as is_shared
from intermediate._identity_new_nodes;

create or replace table intermediate._identity_touched as
select distinct identifier_type, identifier_value
from intermediate._identity_new_pairs;

create or replace table intermediate._identity_recount as
with pairs as (
    select p.*
    from intermediate.identity_pairs as p
    semi join intermediate._identity_touched using (identifier_type, identifier_value)
),

links_by_type as (
    select
        identifier_type,
        identifier_value,
        other_type,
        count(*) as n_linked
    from pairs
    where list_contains($device_types, identifier_type)
        or not list_contains($device_types, other_type)
    group by identifier_type, identifier_value, other_type
),

most_linked as (
    select
        identifier_type,
        identifier_value,
        arg_max(other_type, (n_linked, other_type)) as most_linked_type,
        max(n_linked) as n_linked
    from links_by_type
    group by identifier_type, identifier_value
)

select
    n.node_id,
    coalesce(m.n_linked, 0) as n_linked,
    m.most_linked_type,
    coalesce(m.n_linked, 0) > $max_linked as is_shared,
    n.is_shared as was_shared
from intermediate.identity_nodes as n
semi join intermediate._identity_touched using (identifier_type, identifier_value)
left join most_linked as m
    on n.identifier_type = m.identifier_type
    and n.identifier_value = m.identifier_value;

update intermediate.identity_nodes as n
set
    n_linked = r.n_linked,
    most_linked_type = r.most_linked_type,
    is_shared = r.is_shared
from intermediate._identity_recount as r
where n.node_id = r.node_id;
