-- The 30 most frequent reasons records were rejected, with how many.
select
    reason,
    count(*) as n
from quarantine.rejected
group by all
order by n desc, reason
limit 30
