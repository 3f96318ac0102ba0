-- Used and free blocks of the current database file, and the block size.
select used_blocks, free_blocks, block_size
from pragma_database_size()
where database_name = current_database();
