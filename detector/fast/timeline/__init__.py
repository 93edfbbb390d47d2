"""The per-port timeline: rows aggregated by numba kernels, on a helper thread beside the path."""
