"""NSX-T as the source of truth: the Policy API client, snapshots, drift and the posture audit.

This folder sits beside `sources/`: it reads the manager (or a snapshot file) and hands plain
values (`realized.NsxPort`) to `bindings/`, which never imports an HTTP client.
"""
