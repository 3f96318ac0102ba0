-- The working file's ledger: each source's landing days loaded, with their files' fingerprint.
-- The Spark ingest loads again only the days whose files changed since (as the DuckDB loads).
select source, _partition, fingerprint
from raw._partitions
order by all;
