-- grain: one row per pain point
-- The ranked pain points, each turned into an opportunity by the report.
select * from marts.pain_points order by rank
