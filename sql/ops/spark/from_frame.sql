-- grain: as the Spark table it copies
-- A table Spark built, copied into the working file ($frame names its rows on the driver).
select * from query_table($frame)
