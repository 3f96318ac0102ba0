-- Rows copied from another relation (e.g. an attached file's work.raw.clickstream) into an existing table, those {where} holds for (copy_rows; true: all).
insert into {relation} select * from query_table($source) where {where}
