-- The report's session: UTC timestamps, no progress bar on the terminal.
set timezone = 'UTC';
set enable_progress_bar = false;
