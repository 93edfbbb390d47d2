"""Sources: capture files, live sockets and ring buffers, as batches of records."""
