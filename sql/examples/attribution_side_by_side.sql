-- Conversions credited to each touchpoint by every attribution model, side by side.
pivot (select model, touchpoint, round(conversions, 1) as conversions from marts.attribution)
on model using sum(conversions)
order by touchpoint;
