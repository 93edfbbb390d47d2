"""The numba kernels of the behaviour windows: per (port, window) counts and distinct values.

A row of `ports` is one port in one window: (segment id, MAC, window) and its counters. The
distinct values a row has seen (destination IPs, destination ports, ARP targets, DHCP client
MACs) are one word each in the `pairs` set: (slot + 1) << 35 | kind << 32 | value, where an IPv6
destination or a client MAC is folded to 32 bits by a keyed hash (a rare collision undercounts
by one; a sender cannot aim at one, as the keys are random per process). `peers` holds the
(segment, destination) pairs seen in training; a destination outside it counts as a new peer,
and in learning mode (training) it is added. As in the timeline kernels, column 0 of a row
holds its hash plus one (0: free), every probe compares the full key, and the caller keeps each
table at most half full.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from detector.fast.hashtable import finish, insert_word, place_row
from detector.fast.packets.kernels import ARP_BIT, V4_MARK
from detector.jit import CACHE

SEG, MAC, WINDOW, FIRST, FIRST_TS = 1, 2, 3, 4, 5  # key and evidence columns of a port row
PACKETS, BYTES, SYN, ARP_REQUESTS, ND, DHCP, GROUP = 6, 7, 8, 9, 10, 11, 12  # counters
DST_IPS, DST_PORTS, ARP_TARGETS, DHCP_CLIENTS, NEW_PEERS = 13, 14, 15, 16, 17  # distinct
LAST_DST, LAST_PORT = 18, 19  # the pair words this row inserted last (repeats skip the probe)
PORT_COLUMNS = 20
COUNTS = slice(PACKETS, NEW_PEERS + 1)
_ONE = np.uint64(1)
_LOW = np.uint64(0xFFFF_FFFF)
K_DST, K_PORT, K_TARGET, K_CLIENT = 0, 1, 2, 3


@numba.njit(cache=CACHE, nogil=True, inline="always")
def _fold(hi: Any, lo: Any, mult: Any) -> Any:
    """An address or MAC folded to 32 bits; an IPv4 address is kept as it is."""
    if hi == V4_MARK:
        return lo & _LOW
    return finish((hi * mult) ^ lo) & _LOW


@numba.njit(cache=CACHE, nogil=True)
def _peer(peers: Any, mult: Any, seg: Any, hi: Any, lo: Any, learn: Any) -> Any:
    """Is (segment, destination) a known peer? In learning mode an unknown one is added."""
    mask = np.uint64(len(peers) - 1)
    h = finish((seg * mult) ^ (hi * mult) ^ lo) | _ONE
    k = h & mask
    while peers[k, 0] != 0:
        if peers[k, 0] == h and peers[k, 1] == seg and peers[k, 2] == hi and peers[k, 3] == lo:
            return True
        k = (k + _ONE) & mask
    if learn:
        peers[k, 0], peers[k, 1], peers[k, 2], peers[k, 3] = h, seg, hi, lo
    return False


@numba.njit(cache=CACHE, nogil=True)
def add_peers(peers: Any, mult: Any, triples: Any) -> None:
    """Add (segment id, destination high, low) rows to a peer set."""
    for r in range(triples.shape[0]):
        _peer(peers, mult, triples[r, 0], triples[r, 1], triples[r, 2], True)


@numba.njit(cache=CACHE, nogil=True)
def _slot(ports: Any, seed: Any, seg: Any, mac: Any, window: Any) -> Any:
    """The row of (segment, MAC, window), created if new; returns (slot, 1 if new)."""
    h = finish((seg * seed[0]) ^ (mac * seed[1]) ^ (window * seed[2])) | _ONE
    mask = np.uint64(len(ports) - 1)
    i = h & mask
    while ports[i, 0] != 0:
        if (
            ports[i, 0] == h
            and ports[i, SEG] == seg
            and ports[i, MAC] == mac
            and ports[i, WINDOW] == window
        ):
            return i, 0
        i = (i + _ONE) & mask
    ports[i, 0], ports[i, SEG], ports[i, MAC], ports[i, WINDOW] = h, seg, mac, window
    return i, 1


@numba.njit(cache=CACHE, nogil=True)
def _add(
    ports: Any,
    pairs: Any,
    peers: Any,
    seed: Any,
    learn: Any,
    row: Any,
    packet: Any,
    ts: Any,
    nbytes: Any,
    dhi: Any,
    dlo: Any,
    l4: Any,
    group: Any,
    client: Any,
    flags: Any,
) -> Any:
    """Count one frame in its row; `flags` bit 0: ND, bit 1: DHCP. Return the new pairs."""
    i = row
    p = ports[i]
    if p[PACKETS] == 0 or packet < p[FIRST]:
        p[FIRST], p[FIRST_TS] = packet, ts
    p[PACKETS] += _ONE
    p[BYTES] += nbytes
    p[GROUP] += group
    p[ND] += flags & _ONE
    new_pairs = 0
    tag = (i + _ONE) << np.uint64(35)
    if flags & np.uint64(2):
        p[DHCP] += _ONE
        if client != 0:
            word = tag | (np.uint64(K_CLIENT) << np.uint64(32)) | _fold(client, _ONE, seed[3])
            if insert_word(pairs, seed[4], word):
                p[DHCP_CLIENTS] += _ONE
                new_pairs += 1
    if l4 & ARP_BIT:
        if (l4 & np.uint64(0xFFFF)) == _ONE:
            p[ARP_REQUESTS] += _ONE
        if dhi | dlo:
            word = tag | (np.uint64(K_TARGET) << np.uint64(32)) | _fold(dhi, dlo, seed[3])
            if word != p[LAST_DST]:
                p[LAST_DST] = word
                if insert_word(pairs, seed[4], word):
                    p[ARP_TARGETS] += _ONE
                    new_pairs += 1
        return new_pairs
    if dhi | dlo:
        word = tag | (np.uint64(K_DST) << np.uint64(32)) | _fold(dhi, dlo, seed[3])
        if word != p[LAST_DST]:
            p[LAST_DST] = word
            if insert_word(pairs, seed[4], word):
                p[DST_IPS] += _ONE
                new_pairs += 1
                if not _peer(peers, seed[5], p[SEG], dhi, dlo, learn):
                    p[NEW_PEERS] += _ONE
    proto = (l4 >> np.uint64(24)) & np.uint64(0xFF)
    if proto == 6 or proto == 17:
        if proto == 6 and ((l4 >> np.uint64(16)) & np.uint64(0x12)) == np.uint64(2):
            p[SYN] += _ONE  # SYN without ACK: an opening
        word = tag | (np.uint64(K_PORT) << np.uint64(32)) | (l4 & np.uint64(0xFF00FFFF))
        if word != p[LAST_PORT]:
            p[LAST_PORT] = word
            if insert_word(pairs, seed[4], word):
                p[DST_PORTS] += _ONE
                new_pairs += 1
    return new_pairs


@numba.njit(cache=CACHE, nogil=True, inline="always")
def _count(
    ports: Any, pairs: Any, peers: Any, seed: Any, learn: Any, window_ns: Any, closed_below: Any,
    seg: Any, mac: Any, ts: Any, packet: Any, nbytes: Any, dhi: Any, dlo: Any, l4: Any,
    group: Any, client: Any, flags: Any,
) -> Any:  # fmt: skip
    """Count one frame in the row of its port and window: a frame for a window already closed
    counts in the oldest open one. Returns (new row, new pairs, late, its window)."""
    at = max(np.int64(ts), np.int64(0))
    window = at // window_ns
    late = 0
    if window < closed_below:
        window, late = closed_below, 1
    i, new = _slot(ports, seed, seg, mac, np.uint64(window))
    added = _add(
        ports, pairs, peers, seed, learn, i, np.uint64(packet), np.uint64(at), np.uint64(nbytes),
        dhi, dlo, l4, group, client, flags,
    )  # fmt: skip
    return new, added, late, window


@numba.njit(cache=CACHE, nogil=True)
def aggregate(
    seg: Any,
    mac: Any,
    packet: Any,
    ts: Any,
    nbytes: Any,
    dst: Any,
    l4: Any,
    group: Any,
    client: Any,
    flags: Any,
    window_ns: Any,
    closed_below: Any,
    ports: Any,
    pairs: Any,
    peers: Any,
    seed: Any,
    learn: Any,
    start: Any,
    room_rows: Any,
    room_pairs: Any,
) -> Any:
    """Count the exact path's frames from `start`; return (new rows, new pairs, late frames,
    newest window, where it stopped). It stops before a frame that could overfill a table, so
    the caller grows it and goes on."""
    n_rows, n_pairs, late = 0, 0, 0
    newest = np.int64(-1)
    for r in range(start, len(seg)):
        if n_rows >= room_rows or n_pairs + 4 > room_pairs:
            return n_rows, n_pairs, late, newest, r
        new, added, was_late, window = _count(
            ports, pairs, peers, seed, learn, window_ns, closed_below, seg[r], mac[r], ts[r],
            packet[r], nbytes[r], dst[0, r], dst[1, r], l4[r], group[r], client[r], flags[r],
        )  # fmt: skip
        n_rows += new
        n_pairs += added
        late += was_late
        newest = max(newest, window)
    return n_rows, n_pairs, late, newest, len(seg)


@numba.njit(cache=CACHE, nogil=True)
def aggregate_columns(
    keys: Any,
    dst: Any,
    take: Any,
    ts: Any,
    nbytes: Any,
    first: Any,
    window_ns: Any,
    closed_below: Any,
    ports: Any,
    pairs: Any,
    peers: Any,
    seed: Any,
    learn: Any,
    start: Any,
    room_rows: Any,
    room_pairs: Any,
) -> Any:
    """As `aggregate`, for the `take` frames of the batch path's (9, n) keys and (3, n)
    destinations."""
    n_rows, n_pairs, late = 0, 0, 0
    newest = np.int64(-1)
    zero = np.uint64(0)
    for r in range(start, len(take)):
        if n_rows >= room_rows or n_pairs + 4 > room_pairs:
            return n_rows, n_pairs, late, newest, r
        if not take[r]:
            continue
        new, added, was_late, window = _count(
            ports, pairs, peers, seed, learn, window_ns, closed_below,
            (keys[0, r] << np.uint64(24)) | keys[1, r], keys[2, r], ts[r], first + r, nbytes[r],
            dst[0, r], dst[1, r], dst[2, r], _ONE - keys[8, r], zero, zero,
        )  # fmt: skip
        n_rows += new
        n_pairs += added
        late += was_late
        newest = max(newest, window)
    return n_rows, n_pairs, late, newest, len(take)


@numba.njit(cache=CACHE, nogil=True)
def rebuild(ports: Any, pairs: Any, keep: Any, new_ports: Any, new_pairs: Any, seed: Any) -> Any:
    """Copy the rows marked in `keep`, and their pairs, into new tables; return (rows, pairs)."""
    moved = np.zeros(len(ports), dtype=np.uint64)  # old slot -> new slot + 1 (0: not kept)
    n_rows = 0
    for i in range(len(ports)):
        if ports[i, 0] == 0 or not keep[i]:
            continue
        j = place_row(new_ports, ports, i)
        new_ports[j, LAST_DST] = new_ports[j, LAST_PORT] = 0
        moved[i] = j + _ONE
        n_rows += 1
    n_pairs = 0
    low = (_ONE << np.uint64(35)) - _ONE
    for k in range(len(pairs)):
        slot = pairs[k] >> np.uint64(35)
        if slot != 0 and moved[slot - _ONE] != 0:
            insert_word(
                new_pairs, seed[4], (moved[slot - _ONE] << np.uint64(35)) | (pairs[k] & low)
            )
            n_pairs += 1
    return n_rows, n_pairs
