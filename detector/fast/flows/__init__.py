"""The batch path for IPFIX flow records: key columns, their numba kernel, the path."""
