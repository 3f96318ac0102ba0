-- The version of each table of the attached working file (`work`), with the base version and
-- scope of a write that replaced only some customers' rows (null after a whole-table write):
-- its key, the digest of its customers, the table holding them, and how many customers outside
-- them that write also changed rows of.
select
    relation,
    version,
    base_version,
    scope_key,
    scope_digest,
    scope_relation,
    coalesce(len(scope_extra), 0) as n_extra
from work.intermediate._table_versions;
