-- A table's description from its .yaml (apply_comments; COMMENT ON takes no parameters, so {text} is a quoted literal).
comment on table {relation} is {text}
