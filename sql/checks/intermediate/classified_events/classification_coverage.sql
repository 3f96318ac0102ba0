-- Share of each source's events that some rule classifies (not 'unclassified') is at least settings coverage_threshold.
-- offending rows: one per source below $coverage_threshold, with the event names to write
-- rules for (rules.yaml), most frequent first
-- (the classification is keyed by event_id; source and event name are the event's, in staging.events)
with classified as (
    select
        e.source,
        e.event_name,
        c.rule_id
    from intermediate.classified_events as c
    inner join staging.events as e on c.event_id = e.event_id
),

per_source as (
    select
        source,
        count(*) as n_events,
        count(rule_id) as n_classified,
        count(rule_id) / count(*) as coverage
    from classified
    group by source
),

unclassified as (
    select
        source,
        event_name,
        count(*) as n_events
    from classified
    where rule_id is null
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
left join top_unclassified as t using (source)
where p.coverage < $coverage_threshold
order by p.source
