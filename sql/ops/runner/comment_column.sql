-- A column's description from its table's .yaml (apply_comments).
comment on column {relation}."{column}" is {text}
