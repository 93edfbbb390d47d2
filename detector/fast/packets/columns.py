"""The batch decoder: one numba pass turns a buffer of records into columns for the common case.

The common case is Ethernet / IPv4|IPv6 / UDP / Geneve (RFC 8926) | VXLAN (RFC 7348) / Ethernet
(≤ 2 tags) / IPv4 | IPv6 | ARP (RFC 826) or any other payload that teaches nothing. Everything the
exact decoder (`decoders.chain.Decoder`) would treat specially is marked EXACT and left to it:
errors, fragments, OAM, nested tunnels, DHCP, ICMPv6 (neighbour discovery), other link types.
The checks here mirror the exact decoder's; tests/unit/fast/test_packets.py holds them equal.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from detector.fast.lazy import Lazy
from detector.values import Buffer

if TYPE_CHECKING:
    from detector.config.bindings import BindingPolicy
    from detector.config.decode import DecodeConfig
    from detector.config.detectors import EngineConfig

EXACT, IPV4, IPV6, ARP_LEARN, NO_CHECK = 0, 1, 2, 3, 4
ENCAP_GENEVE, ENCAP_VXLAN = 1, 2
# ip_hi / outer_hi of an IPv4 address; an IPv6 address with these high bits is never put in
# the columns (the kernels leave its record to the exact path), so the mark is unambiguous
V4_MARK = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
ENCAP_NAMES = {ENCAP_GENEVE: "geneve", ENCAP_VXLAN: "vxlan"}
ENCAP_CODES = {name: code for code, name in ENCAP_NAMES.items()}


def mac_text(value: int) -> str:
    """A MAC column value as text (aa:bb:cc:dd:ee:ff)."""
    return value.to_bytes(6, "big").hex(":")


def ip_text(hi: int, lo: int) -> str:
    """An address held as (high, low) words as text; high all ones marks IPv4."""
    if hi == 0xFFFF_FFFF_FFFF_FFFF:
        return socket.inet_ntop(socket.AF_INET, lo.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, struct.pack(">QQ", hi, lo))


OTHER_SEGMENTS = 1 << 40  # segment ids from here on are interned names (ERSPAN, VLAN, untagged)


class SegmentIds:
    """Segments as numbers: a Geneve or VXLAN segment is (encap << 24) | VNI, as the columns
    hold it; any other segment gets an interned id from OTHER_SEGMENTS on, per process."""

    def __init__(self) -> None:
        self.names: list[tuple[str, str]] = []  # interned (encap, segment)
        self._ids: dict[tuple[str, str], int] = {}

    def id(self, encap: str | None, segment: str) -> int:
        kind, _, vni = segment.partition(":")
        code = ENCAP_CODES.get(kind)
        if code is not None and kind == encap and vni.isdigit():
            return (code << 24) | int(vni)
        key = (encap or "", segment)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = OTHER_SEGMENTS + len(self.names)
            self.names.append(key)
        return found

    def of_name(self, segment: str) -> int:
        """The id of a segment known only by name (a model's): its encap is its prefix."""
        kind = segment.partition(":")[0]
        return self.id(kind if kind in ENCAP_CODES else None, segment)

    def name(self, seg: int) -> tuple[str, str | None]:
        """(segment, encap) of an id."""
        if seg >= OTHER_SEGMENTS:
            encap, name = self.names[seg - OTHER_SEGMENTS]
            return name, encap or None
        kind = ENCAP_NAMES[seg >> 24]
        return f"{kind}:{seg & 0xFFFFFF}", kind


class Columns(NamedTuple):
    """Per-record columns: the rows of one (9, n) uint64 key matrix (encap, VNI, MAC, code, IP
    high, IP low, outer high, outer low, unicast); `code` EXACT means the exact decoder must
    handle the record. `hashes` mixes each record's key into 64 bits. `dst` (3, n) holds the
    inner destination (IP destination or ARP target; 0, 0 for none) that the timeline counts,
    and the l4 word of the behaviour windows (kernels.kernel says how it is packed)."""

    keys: npt.NDArray[np.uint64]
    hashes: npt.NDArray[np.uint64]
    dst: npt.NDArray[np.uint64]

    @property
    def encap(self) -> npt.NDArray[np.uint64]:
        return np.asarray(self.keys[0])

    @property
    def code(self) -> npt.NDArray[np.uint64]:
        return np.asarray(self.keys[3])


_KERNELS: Any = Lazy("detector.fast.packets.kernels")


# Keys the settled-key hash (kernels.mix): random per process, passed as an argument (numba's
# cache would freeze a global), so a hostile mirror cannot aim keys at one slot of the table.
HASH_SEED = np.uint64(int.from_bytes(os.urandom(8), "little"))


def kernels() -> Any:
    """The numba kernels module, imported on first use (loading it compiles or reads a cache)."""
    return _KERNELS


Masks = tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]


def masks(cfg: DecodeConfig) -> Masks:
    """The kernel's UDP port masks, from the decode chain's port table: Geneve, VXLAN, and
    every tunnel (a nested one, or VXLAN-GPE, is left to the exact path)."""
    table = cfg.udp_ports()
    geneve = {port for port, carried in table.items() if carried == "geneve"}
    vxlan = {port for port, carried in table.items() if carried == "vxlan"}
    tunnels = {port for port, carried in table.items() if carried != "ipfix"}
    return port_mask(geneve), port_mask(vxlan), port_mask(tunnels)


def enabled(policy: BindingPolicy, engine: EngineConfig) -> bool:
    """Do the columns serve? Not when bindings age by capture time (trust on every use) or
    when frames outside tunnels are judged too."""
    return policy.trust_on_first_use and not engine.inspect_untunnelled


def port_mask(ports: Collection[int]) -> npt.NDArray[np.bool_]:
    mask = np.zeros(65536, dtype=np.bool_)
    mask[list(ports)] = True
    return mask


def decode(
    buf: Buffer,
    offsets: npt.NDArray[np.int64],
    caplens: npt.NDArray[np.int64],
    linktypes: npt.NDArray[np.int64],
    masks: Masks,
) -> Columns:
    """Decode a batch into columns (compiling the kernel on first use)."""
    jit = kernels()
    n = len(offsets)
    keys = np.zeros((9, n), dtype=np.uint64)
    hashes = np.empty(n, dtype=np.uint64)
    dst = np.zeros((3, n), dtype=np.uint64)
    data = np.frombuffer(buf, dtype=np.uint8)
    encap, vni, mac, code, ip_hi, ip_lo, outer_hi, outer_lo, unicast = keys
    jit.kernel(
        data,
        offsets,
        caplens,
        linktypes,
        *masks,
        code,
        encap,
        vni,
        mac,
        ip_hi,
        ip_lo,
        outer_hi,
        outer_lo,
        unicast,
        *dst,
    )
    jit.mix(keys, hashes, HASH_SEED)
    return Columns(keys, hashes, dst)
