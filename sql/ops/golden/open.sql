-- bench/golden.py: the two published files, read-only, as b (before) and a (after), and the
-- 12-significant-digit rule for DOUBLE values (DESIGN.md: "identical").
attach $before as b (read_only);
attach $after as a (read_only);
create or replace temp macro sig12(x) as
    case
        when x is null or x = 0 or isnan(x) or isinf(x) then x
        else round(x, (11 - floor(log10(abs(x))))::integer)
    end;
