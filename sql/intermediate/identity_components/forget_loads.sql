-- identity, full build without a load ledger (models built straight from staging tables): no
-- record of what the sets were counted from, so the next build is a full one too.
drop table if exists intermediate._identity_loads;
drop table if exists intermediate._identity_duplicates;
