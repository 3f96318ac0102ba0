-- After mark_scoped: the customers of temp table scope_extra, outside the run's dirty set, whose
-- rows of relation $r the same write also changed (a model's `also_updates` statements), added
-- to the table's scope_extra, so that a publish replaces their rows too.
update intermediate._table_versions
set scope_extra = list_distinct(
    coalesce(scope_extra, []::varchar []) || (select coalesce(list(customer_id), []::varchar []) from scope_extra)
)
where relation = $r;
