-- grain: one row per funnel
-- The configured funnels as a table (bound lists, one entry per funnel), with as_of, the newest event.
select
    unnest($def_funnel::varchar[]) as funnel,
    unnest($def_unit::varchar[]) as unit,
    unnest($def_mode::varchar[]) as mode,
    unnest($def_n_steps::integer[]) as n_steps,
    unnest($def_window_seconds::double[]) as window_seconds,
    unnest($def_breakdowns::varchar[][]) as breakdowns,
    unnest($def_breakdown_attribution::varchar[]) as breakdown_attribution,
    unnest($def_breakdown_limit::integer[]) as breakdown_limit,
    unnest($def_n_exclusions::integer[]) as n_exclusions,
    $as_of::timestamp as as_of
