-- The one evaluator of an EventMatch condition: a condition row of classify.match_conditions
-- (transforms/classify.py, the one compiler of EventMatch; plus the funnels' 'equals' rows for
-- phase and touchpoint steps) tested against one value of the field it reads. Called by the
-- classification rules (sql/intermediate/classified_events.sql) and the funnels' steps and
-- exclusions (sql/intermediate/funnel_programme/match_events.sql), so both match an event alike.
-- Loaded by the model runner (transforms.models.build) and into every read-write connection.
-- A scalar macro of one expression: another engine inlines it where it is called.
create or replace macro condition_holds(kind, pattern, value) as
    coalesce(case kind
        when 'always' then true
        when 'equals' then value = pattern
        when 'empty' then nullif(value, '') is null
        when 'glob' then like_escape(lower(value), pattern, '\')
        when 'regex' then regexp_matches(value, pattern)
        when 'flag' then value = pattern
    end, false);
