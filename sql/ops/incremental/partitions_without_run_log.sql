-- The loaded partitions that have no marts.pipeline_runs row (lost, or edited away by hand):
-- a run with nothing new to load still runs then, so that it writes those rows again.
select count(*) as n
from raw._partitions as ledger
anti join marts.pipeline_runs as runs
    on ledger.source = runs.source
    and ledger._partition = runs._partition
