-- Each loaded source and partition, with the fingerprint of the files it was loaded from.
select
    source,
    _partition,
    fingerprint
from raw._partitions
