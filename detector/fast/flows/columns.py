"""IPFIX records of a fixed-length template as the batch path's key columns (RFC 7011 §3.4.3).

A template that names the port by MAC (sourceMacAddress 56, else postSourceMacAddress 81) in an
overlay segment (layer2SegmentId 351: type 0x01 VXLAN, 0x07 Geneve) and carries a source address
(tenantSourceIPv4/IPv6 6876/881, 883, else sourceIPv4/IPv6Address 8, 27) gives, in one numba
pass, the same (9, n) key matrix as `columns`: encap, VNI, MAC, code, source, exporter, unicast.
The choices mirror `flows.flow_frame` exactly; other templates and rows are EXACT.
"""

from __future__ import annotations

import functools
import socket
import struct
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from detector.decoders.ipfix.elements import compile_fixed
from detector.decoders.ipfix.observations import DST_MACS, JUDGED, MACS, SOURCES
from detector.decoders.ipfix.records import Field, FlowSet
from detector.fast.packets import columns as col


class Plan(NamedTuple):
    """Where the key elements sit in a record (byte offsets; dst_mac -1 when absent)."""

    mac: int
    segment: int
    source: int
    source_v6: int  # 1 for an IPv6 source
    dst_mac: int


def _where(fields: tuple[Field, ...]) -> dict[str, tuple[int, int]]:
    """Each element's (offset, length) in a fixed-length record, by its name in the flow dict."""
    where: dict[str, tuple[int, int]] = {}
    pos = 0
    for name, (_, _, length) in zip(compile_fixed(fields)[1], fields, strict=True):
        where[name] = (pos, length)
        pos += length
    return where


@functools.lru_cache(maxsize=1024)
def plan(fields: tuple[Field, ...]) -> Plan | None:
    """The key elements' offsets, or None when the template's records need the exact path."""
    where = _where(fields)
    mac = next((where[m] for m in MACS if m in where and where[m][1] == 6), None)
    segment = where.get("layer2SegmentId")
    source = None
    for name in SOURCES:
        length = 4 if "IPv4" in name else 16
        if name in where and where[name][1] == length:  # else not an address: flow_frame skips it
            source = (where[name][0], int(length == 16))
            break
    if mac is None or mac[1] != 6 or segment is None or segment[1] != 8 or source is None:
        return None
    dst = where.get("destinationMacAddress", (-1, 6))
    return Plan(mac[0], segment[0], source[0], source[1], dst[0] if dst[1] == 6 else -1)


@functools.lru_cache(maxsize=1024)
def judged(fields: tuple[Field, ...]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint8]]:
    """The byte positions in a fixed-length record of every element detection depends on
    (`flows.JUDGED`), and a mask for each: records equal there (and in the I/G bit of a MAC
    destination) are judged alike."""
    where = _where(fields)
    spans = [range(where[n][0], sum(where[n])) for n in JUDGED if n in where]
    positions = [i for span in spans for i in span]
    masks = [0xFF] * len(positions)
    dst = where.get(DST_MACS[0])
    if dst is not None and dst[1] == 6:  # else flow_frame sees no MAC: never unicast
        positions.append(dst[0])
        masks.append(0x01)
    return np.array(positions, dtype=np.intp), np.array(masks, dtype=np.uint8)


@functools.lru_cache(maxsize=4096)
def outer(exporter: str) -> tuple[np.uint64, np.uint64] | None:
    """The exporter's address as the (high, low) pair the key matrix holds."""
    try:
        lo = int.from_bytes(socket.inet_pton(socket.AF_INET, exporter))
        return col.V4_MARK, np.uint64(lo)  # numpy scalars: numba's fast dispatch, no big ints
    except OSError:
        pass
    try:
        hi, lo = struct.unpack(">QQ", socket.inet_pton(socket.AF_INET6, exporter))
    except OSError:
        return None
    if hi == col.V4_MARK:
        return None  # ffff:ffff:ffff:ffff::/64 would read as IPv4 in the key: the exact path's
    return np.uint64(hi), np.uint64(lo)


class FlowKeys(NamedTuple):
    """A set's key matrix and hashes, which rows the settled-key table holds, how many it lacks."""

    keys: npt.NDArray[np.uint64]
    hashes: npt.NDArray[np.uint64]
    cached: npt.NDArray[np.bool_]
    misses: int  # rows to check against the binding table (not EXACT, not cached)


Table = tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.bool_]]


def keys(fs: FlowSet, learn: bool, cache: Table) -> FlowKeys | None:
    """The keys of a set's records, probed in `cache` (hashes, keys, used: the batch path's
    settled keys); None when no record can take the batch path.

    `learn` (bindings.learn_from_flows) makes every record teach its source, so it is checked
    like an ARP sender: settled only when already bound, gateway or not.
    """
    where = plan(fs.fields) if fs.size else None
    exporter = outer(fs.exporter)
    if where is None or exporter is None:
        return None
    n = len(fs)
    matrix = np.zeros((9, n), dtype=np.uint64)
    code = col.ARP_LEARN if learn else (col.IPV6 if where.source_v6 else col.IPV4)
    data = np.frombuffer(fs.body, dtype=np.uint8)
    hashes = np.empty(n, dtype=np.uint64)
    cached = np.zeros(n, dtype=np.bool_)
    # compiled (or read from the cache) on first use
    from detector.fast.flows import kernels as flowkernel

    misses = flowkernel.flow_kernel(
        data, fs.size, n, *where, code, *exporter, matrix, hashes, *cache, cached, col.HASH_SEED
    )
    return FlowKeys(matrix, hashes, cached, int(misses))


def warm() -> None:
    """Load the compiled kernel now: one record of a minimal template (MAC, segment, source)."""
    fields = ((0, 56, 6), (0, 351, 8), (0, 8, 4))
    record = bytes(6) + (0x07 << 56 | 1).to_bytes(8) + bytes(4)
    empty = (np.zeros(1, np.uint64), np.zeros((1, 9), np.uint64), np.zeros(1, np.bool_))
    keys(FlowSet("192.0.2.1", 0, 0, fields, record, len(record)), False, empty)
