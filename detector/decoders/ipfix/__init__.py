"""IPFIX (RFC 7011) and NetFlow v9 (RFC 3954): messages, elements, records, and flows as frames."""
