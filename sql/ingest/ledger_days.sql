-- The landing days of source $source the ledger says were loaded, and when.
select _partition, loaded_at
from raw._partitions
where source = $source
order by all;
