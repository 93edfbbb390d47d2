"""The numba kernels of the per-port timeline: hash aggregation of rows into (port, source, bucket).

A group is one timeline row: (segment id, MAC, source high, source low, endpoint high, endpoint
low, bucket). Its values are packets, bytes, unbound packets and distinct destinations; the
destinations already counted are a second open-addressing set of (group slot, destination).
Both tables are row-major uint64 arrays (one probe touches one row, not one array per field);
column 0 holds the hash, or the slot, plus one, so 0 marks a free row. An IPv4 destination's
pair is one word, (slot + 1) << 32 | address, in a table of its own. The hashes take eight
random odd multipliers (`seed`), drawn per timeline: a sender cannot pick keys that collide.
Every probe compares the full key, so a collision never merges two rows.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from detector.fast.hashtable import finish, insert_word, place_row
from detector.jit import CACHE

GROUP_WIDTH = 7
KEY, PACKETS, BYTES, UNBOUND, DESTINATIONS, LAST = 1, 8, 9, 10, 11, 12  # group row columns
GROUP_COLUMNS, PAIR_COLUMNS = 13, 3  # LAST: the IPv4 pair word this group counted last
NO_CHECK = 4  # columns.NO_CHECK: a frame with no source to check
_ONE = np.uint64(1)
V4_MARK = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


@numba.njit(cache=CACHE, nogil=True, inline="always")
def _add(
    groups: Any,
    pairs: Any,
    pairs4: Any,
    seed: Any,
    k0: Any,
    k1: Any,
    k2: Any,
    k3: Any,
    k4: Any,
    k5: Any,
    k6: Any,
    dhi: Any,
    dlo: Any,
    nbytes: Any,
    unbound: Any,
) -> Any:
    """Add one row, its group key in scalars (registers, not an array); return (new group, new
    pair) as 0/1 each."""
    h = (
        (k0 * seed[0] + k1 * seed[1])
        ^ (k2 * seed[2] + k3 * seed[3])
        ^ (k4 * seed[4] + k5 * seed[5])
    )
    h = finish(h ^ (k6 * seed[6])) | _ONE  # never 0: 0 marks a free row
    mask = np.uint64(len(groups) - 1)
    i = h & mask
    new_group = 0
    while True:
        tag = groups[i, 0]
        if tag == 0:
            groups[i, 0] = h
            groups[i, KEY], groups[i, KEY + 1], groups[i, KEY + 2] = k0, k1, k2
            groups[i, KEY + 3], groups[i, KEY + 4], groups[i, KEY + 5] = k3, k4, k5
            groups[i, KEY + 6] = k6
            new_group = 1
            break
        if (
            tag == h
            and groups[i, KEY] == k0
            and groups[i, KEY + 1] == k1
            and groups[i, KEY + 2] == k2
            and groups[i, KEY + 3] == k3
            and groups[i, KEY + 4] == k4
            and groups[i, KEY + 5] == k5
            and groups[i, KEY + 6] == k6
        ):
            break
        i = (i + _ONE) & mask
    groups[i, PACKETS] += _ONE
    groups[i, BYTES] += np.uint64(nbytes)
    if unbound:
        groups[i, UNBOUND] += np.uint64(unbound)
    if dhi == V4_MARK:
        word = ((i + _ONE) << np.uint64(32)) | dlo
        if groups[i, LAST] == word:
            return new_group, 0  # the destination this group counted last: no probe
        groups[i, LAST] = word
    if (dhi | dlo) != 0 and _add_pair(pairs, pairs4, seed[7], i + _ONE, dhi, dlo):
        groups[i, DESTINATIONS] += _ONE
        return new_group, 1
    return new_group, 0


@numba.njit(cache=CACHE, nogil=True, inline="always")
def _add_pair(pairs: Any, pairs4: Any, mult: Any, tag: Any, hi: Any, lo: Any) -> Any:
    """Insert (group slot + 1, destination); True when it was not there."""
    if hi == V4_MARK:
        word = (tag << np.uint64(32)) | lo
        return insert_word(pairs4, mult, word)
    mask = np.uint64(len(pairs) - 1)
    j = finish(((tag * mult) ^ hi) * mult ^ lo) & mask
    while pairs[j, 0] != 0:
        if pairs[j, 0] == tag and pairs[j, 1] == hi and pairs[j, 2] == lo:
            return False
        j = (j + _ONE) & mask
    pairs[j, 0] = tag
    pairs[j, 1] = hi
    pairs[j, 2] = lo
    return True


@numba.njit(cache=CACHE, nogil=True)
def aggregate(
    keys: Any,
    dst: Any,
    nbytes: Any,
    unbound: Any,
    groups: Any,
    pairs: Any,
    pairs4: Any,
    seed: Any,
    start: Any,
    room_groups: Any,
    room_pairs: Any,
) -> Any:
    """Add rows (keys (7, n), destinations (2, n)) from `start` to their groups; return (new
    groups, new pairs, the row it stopped at). It stops before a row that could overfill a
    table (more than `room_*` new entries), so the caller grows it and calls again."""
    n_groups, n_pairs = 0, 0
    for r in range(start, keys.shape[1]):
        if n_groups >= room_groups or n_pairs >= room_pairs:
            return n_groups, n_pairs, r
        k = keys[:, r]
        g, p = _add(
            groups, pairs, pairs4, seed, k[0], k[1], k[2], k[3], k[4], k[5], k[6],
            dst[0, r], dst[1, r], nbytes[r], unbound[r],
        )  # fmt: skip
        n_groups += g
        n_pairs += p
    return n_groups, n_pairs, keys.shape[1]


@numba.njit(cache=CACHE, nogil=True)
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
    pairs4: Any,
    seed: Any,
    start: Any,
    room_groups: Any,
    room_pairs: Any,
) -> Any:
    """Add the `take` rows of the batch path's (9, n) columns (settled: bound) from `start`;
    return (new groups, new pairs, rows for buckets already written, newest bucket, the row it
    stopped at), stopping as `aggregate` does."""
    n_groups, n_pairs, late = 0, 0, 0
    newest = np.int64(-1)
    lo, hi, bucket = np.int64(1), np.int64(0), np.int64(0)  # the bucket of [lo, hi)
    zero = np.uint64(0)
    for r in range(start, cols.shape[1]):
        if n_groups >= room_groups or n_pairs >= room_pairs:
            return n_groups, n_pairs, late, newest, r
        if not take[r]:
            continue
        ts = max(ts_ns[r], 0)
        if ts < lo or ts >= hi:  # a division only when the clock leaves the last bucket
            bucket = ts // bucket_ns
            lo, hi = bucket * bucket_ns, (bucket + 1) * bucket_ns
        newest = max(newest, bucket)
        if bucket < written_below:
            late += 1
        checked = cols[3, r] != NO_CHECK
        g, p = _add(
            groups, pairs, pairs4, seed,
            (cols[0, r] << np.uint64(24)) | cols[1, r], cols[2, r],
            cols[4, r] if checked else zero, cols[5, r] if checked else zero,
            cols[6, r], cols[7, r], np.uint64(bucket),
            dst[0, r], dst[1, r], nbytes[r], 0,
        )  # fmt: skip
        n_groups += g
        n_pairs += p
    return n_groups, n_pairs, late, newest, cols.shape[1]


@numba.njit(cache=CACHE, nogil=True)
def rebuild(
    groups: Any,
    pairs: Any,
    pairs4: Any,
    keep: Any,
    new_groups: Any,
    new_pairs: Any,
    new_pairs4: Any,
    seed: Any,
) -> Any:
    """Copy the groups marked in `keep` (and their destinations) into new tables; return how
    many groups and pairs were copied."""
    moved = np.zeros(len(groups), dtype=np.uint64)  # old slot → new slot + 1 (0: not kept)
    n_groups = 0
    for i in range(len(groups)):
        if groups[i, 0] == 0 or not keep[i]:
            continue
        moved[i] = place_row(new_groups, groups, i) + _ONE
        n_groups += 1
    n_pairs = 0
    for k in range(len(pairs)):
        tag = pairs[k, 0]
        if tag != 0 and moved[tag - _ONE] != 0:
            _add_pair(new_pairs, new_pairs4, seed[7], moved[tag - _ONE], pairs[k, 1], pairs[k, 2])
            n_pairs += 1
    low = np.uint64(0xFFFF_FFFF)
    for k in range(len(pairs4)):
        tag = pairs4[k] >> np.uint64(32)
        if tag != 0 and moved[tag - _ONE] != 0:
            _add_pair(new_pairs, new_pairs4, seed[7], moved[tag - _ONE], V4_MARK, pairs4[k] & low)
            n_pairs += 1
    return n_groups, n_pairs
