"""The classic-pcap record walk compiled with numba: record headers in, offset columns out.

Same rules as detector.sources.pcap's Python walk (16-byte record headers, a length past
MAX_RECORD_BYTES is corruption, the walk stops when its columns are full); used for large
captures, where the walk dominates.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from detector.jit import CACHE


@numba.njit(cache=CACHE, nogil=True)
def u32(b: Any, i: Any, big: Any) -> Any:
    """A 32-bit field of a record header, in the file's byte order."""
    if big:
        hi, mid, lo, last = b[i], b[i + 1], b[i + 2], b[i + 3]
    else:
        hi, mid, lo, last = b[i + 3], b[i + 2], b[i + 1], b[i]
    return (np.int64(hi) << 24) | (np.int64(mid) << 16) | (np.int64(lo) << 8) | np.int64(last)


@numba.njit(cache=CACHE, nogil=True)
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
    while pos + 16 <= end and n < len(offs):
        sec, frac = u32(b, pos, big), u32(b, pos + 4, big)
        incl, orig = u32(b, pos + 8, big), u32(b, pos + 12, big)
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
