-- grain: one row per funnel and step
-- The configured steps as a table (bound lists, one entry per step).
select
    unnest($step_funnel::varchar[]) as funnel,
    unnest($step_index::integer[]) as step_index,
    unnest($step_name::varchar[]) as step_name,
    unnest($step_n_steps::integer[]) as n_steps,
    unnest($step_is_optional::boolean[]) as is_optional,
    unnest($step_min_gap_seconds::double[]) as min_gap_seconds,
    unnest($step_max_gap_seconds::double[]) as max_gap_seconds
