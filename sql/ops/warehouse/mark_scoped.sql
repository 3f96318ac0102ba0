-- Give relation $r a new version after a write that replaced only the rows of the customers of
-- relation $scope (their $key: customer_id or journey_id), digest $digest: the run's dirty set
-- intermediate.dirty_customers, or a write's own table of the customers its rows had before and
-- have after (identity.customer_ids: intermediate._identity_scope). The base version is the one
-- the table had before: a publish whose analyst file holds the base version replaces only those
-- customers' rows. A second such write with the same customers keeps the first one's base (the
-- rows that changed since are still those customers').
insert or replace into intermediate._table_versions
    (relation, version, changed_at, base_version, scope_key, scope_digest, scope_relation)
select
    $r,
    uuid()::varchar,
    now()::timestamp,
    (
        select
            case
                when
                    v.scope_key = $key
                    and v.scope_digest = $digest
                    and coalesce(v.scope_relation, 'intermediate.dirty_customers') = $scope
                    and v.base_version is not null
                    then v.base_version
                else v.version
            end
        from intermediate._table_versions as v
        where v.relation = $r
    ),
    $key,
    $digest,
    $scope;
