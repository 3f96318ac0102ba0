-- Per landed file of the batch: records read and the note on its problems, if any.
select lf.rel, count(r._line) as n_lines, any_value(lf.note) as note
from landing_files as lf
left join landing_rows as r on r._source_file = lf.rel
group by all;
