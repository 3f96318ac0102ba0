-- Spark SQL: the database (schema) a Spark table is registered in.
create database if not exists identifier(:schema)
