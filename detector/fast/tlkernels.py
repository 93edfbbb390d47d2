"""The numba kernels of the per-port timeline: hash aggregation of rows into (port, source, bucket).

A group is one timeline row: (segment id, MAC, source high, source low, endpoint high, endpoint
low, bucket). Its values are packets, bytes, unbound packets and distinct destinations; the
destinations already counted are a second open-addressing set of (group slot, destination).
Both tables are row-major uint64 arrays (one probe touches one row, not one array per field);
column 0 holds the hash, or the slot, plus one, so 0 marks a free row. Every probe compares the
full key, so a hash collision never merges two rows.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

GROUP_WIDTH = 7
KEY, PACKETS, BYTES, UNBOUND, DESTINATIONS = 1, 8, 9, 10, 11  # columns of a group row
GROUP_COLUMNS, PAIR_COLUMNS = 12, 3
NO_CHECK = 4  # columns.NO_CHECK: a frame with no source to check
_MIX = np.uint64(0x9E3779B97F4A7C15)
_F1, _F2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
_ONE = np.uint64(1)


@numba.njit(cache=True, nogil=True, inline="always")
def finish(h: Any) -> Any:
    """MurmurHash3's 64-bit finaliser: every input bit reaches the low bits used as the index."""
    h ^= h >> np.uint64(33)
    h *= _F1
    h ^= h >> np.uint64(33)
    h *= _F2
    return h ^ (h >> np.uint64(33))


@numba.njit(cache=True, nogil=True, inline="always")
def _add(groups: Any, pairs: Any, row: Any, dhi: Any, dlo: Any, nbytes: Any, unbound: Any) -> Any:
    """Add one row (its group key in `row`); return (new group, new pair) as 0/1 each."""
    h = np.uint64(0)
    for c in range(GROUP_WIDTH):
        h = (h * _MIX) ^ row[c]
    h = finish(h) | _ONE  # never 0: 0 marks a free row
    mask = np.uint64(len(groups) - 1)
    i = h & mask
    new_group = 0
    while True:
        if groups[i, 0] == 0:
            groups[i, 0] = h
            groups[i, KEY : KEY + GROUP_WIDTH] = row
            new_group = 1
            break
        if groups[i, 0] == h:
            same = True
            for c in range(GROUP_WIDTH):
                if groups[i, KEY + c] != row[c]:
                    same = False
                    break
            if same:
                break
        i = (i + _ONE) & mask
    groups[i, PACKETS] += _ONE
    groups[i, BYTES] += np.uint64(nbytes)
    groups[i, UNBOUND] += np.uint64(unbound)
    if (dhi | dlo) == 0:
        return new_group, 0
    if _add_pair(pairs, i + _ONE, dhi, dlo):
        groups[i, DESTINATIONS] += _ONE
        return new_group, 1
    return new_group, 0


@numba.njit(cache=True, nogil=True, inline="always")
def _add_pair(pairs: Any, tag: Any, hi: Any, lo: Any) -> Any:
    """Insert (group slot + 1, destination); True when it was not there."""
    mask = np.uint64(len(pairs) - 1)
    j = finish(((tag * _MIX) ^ hi) * _MIX ^ lo) & mask
    while pairs[j, 0] != 0:
        if pairs[j, 0] == tag and pairs[j, 1] == hi and pairs[j, 2] == lo:
            return False
        j = (j + _ONE) & mask
    pairs[j, 0] = tag
    pairs[j, 1] = hi
    pairs[j, 2] = lo
    return True


@numba.njit(cache=True, nogil=True)
def aggregate(keys: Any, dst: Any, nbytes: Any, unbound: Any, groups: Any, pairs: Any) -> Any:
    """Add rows (keys (7, n), destinations (2, n)) to their groups; return (new groups, new
    pairs). The caller keeps both tables at most half full for the rows it passes."""
    added = np.zeros(2, np.int64)
    row = np.empty(GROUP_WIDTH, np.uint64)
    for r in range(keys.shape[1]):
        for c in range(GROUP_WIDTH):
            row[c] = keys[c, r]
        g, p = _add(groups, pairs, row, dst[0, r], dst[1, r], nbytes[r], unbound[r])
        added[0] += g
        added[1] += p
    return added[0], added[1]


@numba.njit(cache=True, nogil=True)
def aggregate_columns(
    cols: Any,
    dst: Any,
    take: Any,
    ts_ns: Any,
    bucket_ns: Any,
    written_below: Any,
    nbytes: Any,
    groups: Any,
    pairs: Any,
) -> Any:
    """Add the `take` rows of the batch path's (9, n) columns (settled: bound); return (new
    groups, new pairs, rows for buckets already written, newest bucket)."""
    added = np.zeros(3, np.int64)
    row = np.empty(GROUP_WIDTH, np.uint64)
    newest = np.int64(-1)
    for r in range(cols.shape[1]):
        if not take[r]:
            continue
        checked = cols[3, r] != NO_CHECK
        row[0] = (cols[0, r] << np.uint64(24)) | cols[1, r]
        row[1] = cols[2, r]
        row[2] = cols[4, r] if checked else np.uint64(0)
        row[3] = cols[5, r] if checked else np.uint64(0)
        row[4] = cols[6, r]
        row[5] = cols[7, r]
        bucket = max(ts_ns[r], 0) // bucket_ns
        row[6] = np.uint64(bucket)
        newest = max(newest, bucket)
        if bucket < written_below:
            added[2] += 1
        g, p = _add(groups, pairs, row, dst[0, r], dst[1, r], nbytes[r], 0)
        added[0] += g
        added[1] += p
    return added[0], added[1], added[2], newest


@numba.njit(cache=True, nogil=True)
def rebuild(groups: Any, pairs: Any, keep: Any, new_groups: Any, new_pairs: Any) -> Any:
    """Copy the groups marked in `keep` (and their destinations) into new tables; return how
    many groups and pairs were copied."""
    moved = np.zeros(len(groups), dtype=np.uint64)  # old slot → new slot + 1 (0: not kept)
    mask = np.uint64(len(new_groups) - 1)
    n_groups = 0
    for i in range(len(groups)):
        if groups[i, 0] == 0 or not keep[i]:
            continue
        j = groups[i, 0] & mask
        while new_groups[j, 0] != 0:
            j = (j + _ONE) & mask
        new_groups[j, :] = groups[i, :]
        moved[i] = j + _ONE
        n_groups += 1
    n_pairs = 0
    for k in range(len(pairs)):
        tag = pairs[k, 0]
        if tag != 0 and moved[tag - _ONE] != 0:
            _add_pair(new_pairs, moved[tag - _ONE], pairs[k, 1], pairs[k, 2])
            n_pairs += 1
    return n_groups, n_pairs
