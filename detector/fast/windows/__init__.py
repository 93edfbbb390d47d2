"""Behaviour windows: per-port counts by numba kernels, scored on a helper thread."""
