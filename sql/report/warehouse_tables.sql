-- grain: one row per table of the warehouse
-- The relations present, so a query reading a missing mart becomes a "No data" note.
select table_schema || '.' || table_name as relation
from information_schema.tables
