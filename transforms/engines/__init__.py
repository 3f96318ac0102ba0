"""Engines other than DuckDB (issue 19). The models are written once, in DuckDB SQL restricted
to a portable subset (`portability.lint`); the Spark form is generated (`spark.to_spark`)."""
