"""The open-addressing hash tables of the batch paths, in one place (numba kernels).

Every table is open addressing with linear probing over a power-of-two number of slots, kept at
most half full by its caller, and every probe compares the full key, so a collision never merges
two keys. Three shapes:

- the settled-key cache (`fast/settled.py`): parallel arrays of hashes, 9-word keys and a used
  flag (`probe`, `insert`);
- row tables (the timeline's groups, the behaviour windows' ports): row-major uint64 rows whose
  column 0 holds the key's hash, never 0, so 0 marks a free row (`place_row` when rebuilding);
- word sets (the destinations counted per row): one nonzero uint64 word a slot (`insert_word`).

Hashes are keyed by per-process random seeds, so a mirror cannot aim keys at one slot.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from detector.jit import CACHE

F1, F2 = np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53)
ONE = np.uint64(1)


@numba.njit(cache=CACHE, nogil=True, inline="always")
def finish(h: Any) -> Any:
    """MurmurHash3's 64-bit finaliser: every input bit reaches the low bits used as the index."""
    h ^= h >> np.uint64(33)
    h *= F1
    h ^= h >> np.uint64(33)
    h *= F2
    return h ^ (h >> np.uint64(33))


@numba.njit(cache=CACHE, nogil=True)
def same_key(tab_k: Any, i: Any, f: Any, r: Any) -> Any:
    for c in range(9):  # noqa: SIM110 - an explicit loop is what numba compiles well
        if tab_k[i, c] != f[c, r]:
            return False
    return True


@numba.njit(cache=CACHE, nogil=True)
def probe_one(tab_h: Any, tab_k: Any, used: Any, h: Any, f: Any, r: Any) -> Any:
    """Is row r's full key in the open-addressing table?"""
    mask = np.uint64(len(used) - 1)
    i = h[r] & mask
    while used[i]:
        if tab_h[i] == h[r] and same_key(tab_k, i, f, r):
            return True
        i = (i + np.uint64(1)) & mask
    return False


@numba.njit(cache=CACHE, nogil=True)
def probe(tab_h: Any, tab_k: Any, used: Any, h: Any, f: Any, want: Any, out: Any) -> None:
    """Mark out[r] for every wanted row whose full key is in the open-addressing table."""
    for r in range(len(h)):
        if want[r] and probe_one(tab_h, tab_k, used, h, f, r):
            out[r] = True


@numba.njit(cache=CACHE, nogil=True)
def insert(tab_h: Any, tab_k: Any, used: Any, h: Any, f: Any) -> Any:
    """Insert keys (rows of f); return how many were new."""
    mask = np.uint64(len(used) - 1)
    added = 0
    for r in range(len(h)):
        i = h[r] & mask
        found = False
        while used[i]:
            if tab_h[i] == h[r] and same_key(tab_k, i, f, r):
                found = True
                break
            i = (i + np.uint64(1)) & mask
        if not found:
            used[i] = True
            tab_h[i] = h[r]
            for c in range(9):
                tab_k[i, c] = f[c, r]
            added += 1
    return added


@numba.njit(cache=CACHE, nogil=True)
def insert_word(pairs: Any, mult: Any, word: Any) -> Any:
    """Insert a nonzero word into a word set; True when it was not there."""
    mask = np.uint64(len(pairs) - 1)
    k = finish(word * mult) & mask
    while pairs[k] != 0:
        if pairs[k] == word:
            return False
        k = (k + ONE) & mask
    pairs[k] = word
    return True


@numba.njit(cache=CACHE, nogil=True, inline="always")
def place_row(new_rows: Any, rows: Any, i: Any) -> Any:
    """Copy row i into the first free slot its stored hash (column 0) leads to; return the slot."""
    mask = np.uint64(len(new_rows) - 1)
    j = rows[i, 0] & mask
    while new_rows[j, 0] != 0:
        j = (j + ONE) & mask
    new_rows[j, :] = rows[i, :]
    return j
