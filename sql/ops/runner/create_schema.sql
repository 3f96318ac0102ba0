-- A schema the warehouse writes (ensure_schema).
create schema if not exists {schema}
