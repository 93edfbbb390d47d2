"""The batch path for packets: the columns of common frames, their numba kernels, the path."""
