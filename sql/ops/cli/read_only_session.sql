-- `journeys sql`: UTC, then no setting may change (the configuration is locked).
set TimeZone = 'UTC';
set lock_configuration = true;
