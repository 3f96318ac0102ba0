-- Give relation $r a new version after a write that replaced only the rows of the customers of
-- relation $scope (their $key: customer_id or journey_id), digest $digest: the run's dirty set
-- intermediate.dirty_customers, or a write's own table of the customers its rows had before and
-- have after (identity.customer_ids: intermediate._identity_scope). The base version is the one
-- the table had before: a publish whose analyst file holds the base version replaces only those
-- customers' rows. A second such write with the same customers keeps the first one's base (the
-- rows that changed since are still those customers'), and the customers outside the set whose
-- rows the first one also changed (scope_extra, added by mark_scoped_extra.sql); any other write
-- starts with none.
insert or replace into intermediate._table_versions
    (relation, version, changed_at, base_version, scope_key, scope_digest, scope_relation, scope_extra)
with same_scope as (
    select v.base_version, v.scope_extra
    from intermediate._table_versions as v
    where
        v.relation = $r
        and v.scope_key = $key
        and v.scope_digest = $digest
        and coalesce(v.scope_relation, 'intermediate.dirty_customers') = $scope
        and v.base_version is not null
)
select
    $r,
    uuid()::varchar,
    now()::timestamp,
    coalesce(
        (select base_version from same_scope),
        (select v.version from intermediate._table_versions as v where v.relation = $r)
    ),
    $key,
    $digest,
    $scope,
    (select scope_extra from same_scope);
