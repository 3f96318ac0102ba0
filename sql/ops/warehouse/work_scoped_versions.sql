-- The version of each table of the attached working file (`work`), with the base version and
-- scope of a write that replaced only some customers' rows (null after a whole-table write):
-- its key, the digest of its customers and the table holding them.
select relation, version, base_version, scope_key, scope_digest, scope_relation
from work.intermediate._table_versions;
