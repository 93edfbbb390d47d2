"""The classic-pcap record walk compiled with numba: record headers in, offset columns out.

Same rules as detector.sources.pcap's Python walk (16-byte record headers, a length past
MAX_RECORD_BYTES is corruption); used for large captures, where the walk dominates.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def walk(
    b: Any,
    end: Any,
    big: Any,
    ns_unit: Any,
    max_rec: Any,
    offs: Any,
    caps: Any,
    origs: Any,
    ts: Any,
) -> Any:
    pos: Any = 0
    n: Any = 0
    while pos + 16 <= end:
        if big:
            sec = (
                (np.int64(b[pos]) << 24)
                | (np.int64(b[pos + 1]) << 16)
                | (np.int64(b[pos + 2]) << 8)
                | np.int64(b[pos + 3])
            )
            frac = (
                (np.int64(b[pos + 4]) << 24)
                | (np.int64(b[pos + 5]) << 16)
                | (np.int64(b[pos + 6]) << 8)
                | np.int64(b[pos + 7])
            )
            incl = (
                (np.int64(b[pos + 8]) << 24)
                | (np.int64(b[pos + 9]) << 16)
                | (np.int64(b[pos + 10]) << 8)
                | np.int64(b[pos + 11])
            )
            orig = (
                (np.int64(b[pos + 12]) << 24)
                | (np.int64(b[pos + 13]) << 16)
                | (np.int64(b[pos + 14]) << 8)
                | np.int64(b[pos + 15])
            )
        else:
            sec = (
                (np.int64(b[pos + 3]) << 24)
                | (np.int64(b[pos + 2]) << 16)
                | (np.int64(b[pos + 1]) << 8)
                | np.int64(b[pos])
            )
            frac = (
                (np.int64(b[pos + 7]) << 24)
                | (np.int64(b[pos + 6]) << 16)
                | (np.int64(b[pos + 5]) << 8)
                | np.int64(b[pos + 4])
            )
            incl = (
                (np.int64(b[pos + 11]) << 24)
                | (np.int64(b[pos + 10]) << 16)
                | (np.int64(b[pos + 9]) << 8)
                | np.int64(b[pos + 8])
            )
            orig = (
                (np.int64(b[pos + 15]) << 24)
                | (np.int64(b[pos + 14]) << 16)
                | (np.int64(b[pos + 13]) << 8)
                | np.int64(b[pos + 12])
            )
        if incl > max_rec:
            return n, pos, True
        if pos + 16 + incl > end:
            break
        offs[n] = pos + 16
        caps[n] = incl
        origs[n] = orig
        ts[n] = sec * 1_000_000_000 + frac * ns_unit
        n += 1
        pos += 16 + incl
    return n, pos, False


def walker() -> Any:
    """The compiled walk (compiled, or loaded from numba's cache, on first call)."""
    return walk
