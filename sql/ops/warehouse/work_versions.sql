-- The version of each table of the attached working file (`work`), as mark_changed wrote it.
select relation, version from work.intermediate._table_versions;
