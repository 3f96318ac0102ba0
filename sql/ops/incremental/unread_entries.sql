-- The landing entries the last run found unread (quarantine.unread_files), as a run compares
-- them with the landing zone as it is now.
select source, path, kind, _partition, n_files, reason
from quarantine.unread_files;
