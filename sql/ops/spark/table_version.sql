-- The version the working file's copy of $relation has (intermediate._table_versions): a Spark
-- table noted with it holds the same rows (transforms/engines/spark_tables.py).
select version from intermediate._table_versions where relation = $relation;
