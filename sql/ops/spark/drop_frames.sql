-- The temporary views of Spark tables read from their Parquet files (spark_run._parquet_frame)
-- dropped once copied into the working file.
drop view if exists spark_frame;
drop view if exists spark_frame_partitions;
drop view if exists spark_frame_events;
drop view if exists spark_frame_rejected;
drop view if exists spark_frame_duplicates;
drop view if exists spark_frame_profile_versions;
