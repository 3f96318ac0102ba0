-- Erasures of the working file (`work`), for an analyst file that has none.
select count(*) from work.marts.erasures;
