-- A model's select written as its table (replace_table).
create or replace table {relation} as
{select}
