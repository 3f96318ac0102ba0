-- Temp table scope_extra, once its customers are recorded (scope_extra.sql).
drop table scope_extra;
