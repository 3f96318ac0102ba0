-- The customers outside the run's dirty set whose rows of $r the working file's scoped writes
-- also changed (its scope_extra, see mark_scoped_extra.sql), added to temp table publish_scope
-- (publish_scope.sql makes it the dirty set again for the next table).
insert into publish_scope
select customer_id from (
    select unnest(scope_extra) as customer_id
    from work.intermediate._table_versions
    where relation = $r
)
except
select customer_id from publish_scope;
