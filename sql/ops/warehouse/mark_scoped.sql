-- Give relation $r a new version after a write that replaced only the rows of the customers of
-- intermediate.dirty_customers (their $key: customer_id or journey_id), digest $digest. The
-- base version is the one the table had before: a publish whose analyst file holds the base
-- version replaces only those customers' rows. A second such write with the same customers
-- keeps the first one's base (the rows that changed since are still those customers'), and
-- the customers outside the set whose rows the first one also changed (scope_extra, added by
-- mark_scoped_extra.sql); any other write starts with none.
insert or replace into intermediate._table_versions
    (relation, version, changed_at, base_version, scope_key, scope_digest, scope_extra)
select
    $r,
    uuid()::varchar,
    now()::timestamp,
    (
        select
            case
                when v.scope_key = $key and v.scope_digest = $digest and v.base_version is not null
                    then v.base_version
                else v.version
            end
        from intermediate._table_versions as v
        where v.relation = $r
    ),
    $key,
    $digest,
    (
        select v.scope_extra
        from intermediate._table_versions as v
        where
            v.relation = $r
            and v.scope_key = $key
            and v.scope_digest = $digest
            and v.base_version is not null
    );
