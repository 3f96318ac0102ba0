-- The landing days of source $source the ledger says were loaded, when, and their files' fingerprint.
select _partition, loaded_at, fingerprint
from raw._partitions
where source = $source
order by all;
