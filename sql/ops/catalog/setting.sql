-- One setting of the connection ($name: threads, temp_directory, memory_limit).
select current_setting($name);
