-- The compression of the columns written next ($compression: zstd for landed payloads, or auto).
set force_compression = $compression
