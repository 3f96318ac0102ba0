-- Back to DuckDB's default Arrow export.
reset arrow_lossless_conversion;
