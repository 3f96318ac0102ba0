-- identity, full build: the identifier sets of staging.events per source and landing day, with
-- how many events carry each (intermediate._identity_partition_sets). A nightly run recounts
-- only the days it reloaded, so it learns which sets are new and which are gone without reading
-- every event again (changed_sets.sql). Only the sets' text form is kept: the sets themselves
-- are in intermediate.identity_sets.
create or replace table intermediate._identity_partition_sets as
select
    source,
    _partition,
    identifiers::varchar as identifier_set,
    count(*) as n_events
from staging.events
group by source, _partition, identifier_set;
