-- Every connection's session: timestamps read and written in UTC.
set TimeZone = 'UTC';
