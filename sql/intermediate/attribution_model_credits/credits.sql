-- grain: one row per algorithmic model and touchpoint
-- The credits solved on the driver ($credits names the frame holding them).
select * from query_table($credits)
