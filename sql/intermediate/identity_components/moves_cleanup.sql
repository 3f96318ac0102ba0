drop table if exists identifier_sets_before;
