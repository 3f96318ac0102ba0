-- Share of each source's events that some rule classifies (not 'unclassified') is at least settings coverage_threshold.
-- offending rows: one per source below $coverage_threshold, with the event names to write
-- rules for (rules.yaml), most frequent first
-- The share is counted on intermediate.classified_events alone (it carries each event's source
-- and rule), two narrow columns: the same file serves every run, nightly or full. Only a source
-- below the threshold has its unclassified events matched with staging.events (event_id) for
-- their names: while `below` is empty DuckDB stops that scan at its first chunk.
with per_source as (
    select
        source,
        count(*) as n_events,
        count(rule_id) as n_classified,
        count(rule_id) / count(*) as coverage
    from intermediate.classified_events
    group by source
),

below as (
    select source
    from per_source
    where coverage < $coverage_threshold
),

unclassified_ids as (
    select
        c.event_id
    from below as b
    inner join intermediate.classified_events as c on b.source = c.source
    where c.rule_id is null
),

unclassified as (
    select
        e.source,
        e.event_name,
        count(*) as n_events
    from unclassified_ids as u
    inner join staging.events as e on u.event_id = e.event_id
    group by all
),

top_unclassified as (
    select
        source,
        list(event_name || ' (' || n_events || ')' order by n_events desc, event_name)[1:5] as unclassified_events
    from unclassified
    group by source
)

select
    p.source,
    p.n_events,
    p.n_classified,
    p.coverage,
    t.unclassified_events
from per_source as p
inner join below as b using (source)
left join top_unclassified as t using (source)
order by p.source
