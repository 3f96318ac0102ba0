-- DuckDB's own types (JSON, HUGEINT, ...) kept through Arrow, for a frame typed as on DuckDB.
set arrow_lossless_conversion = true;
