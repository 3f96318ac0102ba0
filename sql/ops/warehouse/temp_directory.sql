-- Where DuckDB spills: the warehouse's private temporary folder.
set temp_directory = $v;
