-- grain: one row per attribution model and touchpoint
-- Credit per touchpoint under each model, side by side.
select model, touchpoint, conversions, revenue, share from marts.attribution
