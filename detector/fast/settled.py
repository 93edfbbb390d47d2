"""The settled-key cache of the batch paths: keys known to change nothing, in an open-addressing
hash table that a numba kernel probes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.fast.lazy import Lazy
from detector.fast.packets import columns as col
from detector.values import PortKey

_TABLE: Any = Lazy("detector.fast.hashtable")  # numba loads when the cache is first used


def port_ids(fields: tuple[npt.NDArray[Any], ...]) -> npt.NDArray[np.uint64]:
    """Port ids (encap, VNI and MAC mixed) of key columns."""
    encap, vni, mac = fields[0], fields[1], fields[2]
    ids = (mac.astype(np.uint64) << np.uint64(16)) ^ (vni.astype(np.uint64) * np.uint64(4) + encap)
    return np.asarray(ids, dtype=np.uint64)


class SettledKeys:
    """Keys known to be settled, in an open-addressing hash table probed by a numba kernel.

    Every probe compares the full key, so a hash collision can never settle a frame under
    another frame's key. Under trust on first use a settled key stays settled until its port
    moves to another tunnel endpoint; then the table is rebuilt without that port, and only if
    it holds a key of that port (`ports`), so a port with nothing cached moves for free.
    """

    LIMIT = 1 << 20  # keys; past it the cache starts over (memory stays bounded)

    def __init__(self, capacity: int = 1 << 14) -> None:
        self.used = np.zeros(capacity, dtype=np.bool_)
        self.hashes = np.zeros(capacity, dtype=np.uint64)
        self.keys = np.zeros((capacity, 9), dtype=np.uint64)
        self.count = 0
        self.ports: set[int] = set()  # port ids with a key here

    def lookup(
        self, h: npt.NDArray[np.uint64], keys: npt.NDArray[np.uint64], want: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.bool_]:
        out = np.zeros(len(h), dtype=np.bool_)
        if self.count:
            _TABLE.probe(self.hashes, self.keys, self.used, h, keys, want, out)
        return out

    def add(self, h: npt.NDArray[np.uint64], keys: npt.NDArray[np.uint64]) -> None:
        if self.count + len(h) > self.LIMIT:
            self.__init__()  # type: ignore[misc]
        while 2 * (self.count + len(h)) > len(self.used):
            self._rebuild(len(self.used) * 2)
        self.count += int(_TABLE.insert(self.hashes, self.keys, self.used, h, keys))
        self.ports.update(port_ids(tuple(keys[:3])).tolist())

    def forget(self, ports: npt.NDArray[np.uint64]) -> None:
        """Drop the keys of ports that moved (port id = encap, VNI and MAC mixed)."""
        if self.count and not self.ports.isdisjoint(ports.tolist()):
            self._rebuild(len(self.used), drop=ports)

    def _rebuild(self, capacity: int, drop: npt.NDArray[np.uint64] | None = None) -> None:
        rows = np.flatnonzero(self.used)
        h, keys = self.hashes[rows], self.keys[rows].T.copy()
        if drop is not None:
            keep = ~np.isin(port_ids(tuple(keys[:3])), drop)
            h, keys = h[keep], keys[:, keep].copy()
        self.__init__(capacity)  # type: ignore[misc]
        if len(h):
            self.count = int(_TABLE.insert(self.hashes, self.keys, self.used, h, keys))
            self.ports.update(port_ids(tuple(keys[:3])).tolist())


class PortIndex:
    """The frames of a batch grouped by port, to find one port's frames quickly."""

    def __init__(self, keys: npt.NDArray[np.uint64]) -> None:
        self.ports = port_ids(tuple(keys[:3]))
        self.order = np.argsort(self.ports, kind="stable")
        self.sorted = self.ports[self.order]

    def frames(self, port_id: np.uint64) -> npt.NDArray[np.intp]:
        lo = int(np.searchsorted(self.sorted, port_id, side="left"))
        hi = int(np.searchsorted(self.sorted, port_id, side="right"))
        return self.order[lo:hi]


def ports_ids(ports: Iterable[PortKey]) -> npt.NDArray[np.uint64]:
    """The sorted port ids of the ports the columns can hold (Geneve and VXLAN)."""
    found = (_port_id(p) for p in ports)
    return np.array(sorted({i for i in found if i is not None}), dtype=np.uint64)


def _port_id(port: PortKey) -> int | None:
    kind, _, vni = port.segment.partition(":")
    code = col.ENCAP_CODES.get(kind)
    if code is None or not vni.isdigit() or port.mac.startswith("vif:"):
        return None  # not a port the columns can hold: nothing cached to forget or re-check
    mac = int(port.mac.replace(":", ""), 16)
    return ((mac << 16) ^ (int(vni) * 4 + code)) & 0xFFFF_FFFF_FFFF_FFFF
