-- Erasures of the working file (`work`) the analyst file has not seen.
select count(*)
from work.marts.erasures
anti join marts.erasures using (erasure_id);
