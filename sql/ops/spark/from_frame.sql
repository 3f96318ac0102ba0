-- grain: as the Spark table it copies
-- A table Spark built, copied into the working file ($frame names the view of its Parquet files).
select * from query_table($frame)
