"""Port storage for the binding table: int keys, one packed int a port, PortState for the rest.

A port is an int key (segment id, MAC). While it holds at most one realized binding and nothing
rarer, its whole state is one int (binding, evidence and tunnel endpoint; see `packed`); a port
that holds more becomes a PortState. A million such ports cost about 230 bytes each.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from detector.bindings import packed as pk
from detector.values import Binding, Method, PortKey

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DISCOVERED_TOTAL = 100_000  # discovered-only bindings kept table-wide (a flood cannot grow it)


@dataclass(slots=True)
class PortState:
    """A port that outgrew one packed int; addresses and bindings are packed ints."""

    realized: tuple[int, ...] = ()  # packed bindings, in learning order (a tuple is small)
    endpoint: int = 0  # code of the tunnel endpoint last seen (address int + 1), 0 for none
    refreshed: dict[int, int] | None = None  # address → capture ns of its last use (TOEU only)
    networks: list[tuple[Network, Binding]] | None = None  # manual CIDRs
    discovered: dict[int, int] | None = None  # past the limit, or duplicates


Port = int | PortState


class PortStore:
    """Ports by key, the (segment, address) → port index, and the change log."""

    def __init__(self) -> None:
        self.codec = pk.Codec()
        self._ports: dict[int, Port] = {}
        self._owners: dict[int, int] = {}  # owner_key(address, segment) → port key
        self.stats: Counter[str] = Counter()  # realized:<method>, discovered:<method>, …
        self.version = 0  # bumped by every change a settled frame could depend on
        self.changes: list[tuple[PortKey, bool]] | None = None  # (port, moved) log, when tracked
        self.realized_count = 0
        self.discovered_count = 0
        self._memo: tuple[PortKey | None, int] = (None, 0)  # the last port looked up
        self._unlearned: set[int] = set()  # key << 1 | ipv6: ports reported sending unlearned

    def __len__(self) -> int:
        return len(self._ports)

    def __contains__(self, port: PortKey) -> bool:
        return self._find(port) is not None

    def endpoint(self, port: PortKey) -> str | None:
        """The tunnel endpoint the port was last seen behind."""
        k = self._find(port)
        code = endpoint_of(self._ports[k]) if k is not None else 0
        return pk.addr_text(code - 1) if code else None

    def binding(self, port: PortKey, address: str) -> Binding | None:
        """The port's realized binding of exactly this address."""
        k = self._find(port)
        b = realized(self._ports[k], pk.addr_int(address)) if k is not None else 0
        return self.codec.unpack(b) if b else None

    def bindings(self, port: PortKey) -> tuple[Binding, ...]:
        """The port's realized bindings: addresses in learning order, then manual networks."""
        k = self._find(port)
        if k is None:
            return ()
        v = self._ports[k]
        if isinstance(v, int):
            b = pk.split(v)[0]
            return (self.codec.unpack(b),) if b else ()
        own = tuple(self.codec.unpack(b) for b in v.realized)
        return (*own, *(b for _, b in v.networks or ()))

    def discovered(self, port: PortKey) -> tuple[Binding, ...]:
        """Addresses the port claimed that were not realized (limit or duplicate)."""
        k = self._find(port)
        v = self._ports[k] if k is not None else 0
        found = v.discovered if isinstance(v, PortState) else None
        return tuple(self.codec.unpack(b) for b in (found or {}).values())

    def has_family(self, port: PortKey, ipv6: bool) -> bool:
        """Does the port have any binding of this address family (IPv4 or IPv6)?"""
        k = self._find(port)
        if k is None:
            return False
        v = self._ports[k]
        if isinstance(v, int):
            b = pk.split(v)[0]
            return bool(b) and (b >> pk.FIXED) & 1 == ipv6
        return any((b >> pk.FIXED) & 1 == ipv6 for b in v.realized) or any(
            (n.version == 6) == ipv6 for n, _ in v.networks or ()
        )

    def first_unlearned(self, port: PortKey, ipv6: bool) -> bool:
        """Is this the first report of the port sending before any binding of the family? Kept
        for the port's life (ports are capped), so forgetting alert keys cannot repeat it."""
        k = self._find(port)
        if k is None:
            return True
        mark = k << 1 | ipv6
        if mark in self._unlearned:
            return False
        self._unlearned.add(mark)
        return True

    def items(self) -> Iterator[tuple[PortKey, Binding]]:
        """Every realized binding with its port, port by port."""
        for k in self._ports:
            port = self.codec.port_of(k)
            for binding in self.bindings(port):
                yield port, binding

    def binding_count(self) -> int:
        """Realized bindings now (addresses and manual networks)."""
        return self.realized_count

    def move(self, port: PortKey, endpoint: str) -> None:
        """Record the tunnel endpoint a port now speaks from."""
        k = self._find(port)
        if k is None:
            return
        try:
            v, code = self._ports[k], pk.addr_int(endpoint) + 1
        except ValueError:
            self.stats["endpoint_not_an_address"] += 1
            return
        before = endpoint_of(v)
        if before == code:
            return
        self._changed(port, moved=before != 0)
        if isinstance(v, PortState):
            v.endpoint = code
        else:
            self._ports[k] = pk.join(pk.split(v)[0], code)

    def track_changes(self) -> None:
        """Start logging which ports change (drained by the batch path)."""
        self.changes = []

    def drain_changes(self) -> list[tuple[PortKey, bool]]:
        out, self.changes = self.changes or [], [] if self.changes is not None else None
        return out

    def _find(self, port: PortKey) -> int | None:
        memo, key = self._memo
        if port is memo:
            return key
        k = self.codec.port(port, create=False)
        if k is None or k not in self._ports:
            return None
        self._memo = (port, k)
        return k

    def _create(self, port: PortKey, cap: int) -> int | None:
        """The port's key, creating the port unless `cap` ports exist (counted)."""
        k = self._find(port)
        if k is not None:
            return k
        if len(self._ports) >= cap:
            self.stats["ports_refused"] += 1
            return None
        k = self.codec.port(port, create=True)
        assert k is not None
        self._ports[k] = 0
        self._memo = (port, k)
        return k

    def _rich(self, k: int) -> PortState:
        """The port as a PortState, converting a packed port."""
        v = self._ports[k]
        if isinstance(v, PortState):
            return v
        b, endpoint = pk.split(v)
        state = PortState((b,) if b else (), endpoint)
        self._ports[k] = state
        return state

    def _put(self, k: int, a: int, b: int) -> None:
        """Store binding `b` of address int `a` (no index, no counting)."""
        v = self._ports[k]
        if isinstance(v, int) and not pk.split(v)[0]:
            self._ports[k] = pk.join(b, pk.split(v)[1])
            return
        state = self._rich(k)
        kept = [x for x in state.realized if pk.binding_address(x) != a]
        if len(kept) == len(state.realized):
            state.realized = (*kept, b)
        else:  # replaced where it was
            state.realized = tuple(b if pk.binding_address(x) == a else x for x in state.realized)

    def _realize(self, k: int, port: PortKey, a: int, b: int) -> None:
        self._put(k, a, b)
        v = self._ports[k]
        if isinstance(v, PortState) and v.discovered and v.discovered.pop(a, 0):
            self.discovered_count -= 1
        self._owners[pk.owner_key(a, pk.segment_id(k))] = k
        self.realized_count += 1
        self._changed(port)

    def _unrealize(self, k: int, a: int) -> None:
        state = self._rich(k)
        state.realized = tuple(b for b in state.realized if pk.binding_address(b) != a)
        if state.refreshed:
            state.refreshed.pop(a, None)
        key = pk.owner_key(a, pk.segment_id(k))
        if self._owners.get(key) == k:
            del self._owners[key]
        self.realized_count -= 1
        self._changed(self.codec.port_of(k), moved=True)  # what it settled is unsettled

    def _discover(self, k: int, b: int, cap: int) -> None:
        """Record a binding that was not realized, within the port's and the table's caps."""
        self.stats[f"discovered:{pk.binding_method(b)}"] += 1
        v, a = self._ports[k], pk.binding_address(b)
        found = v.discovered if isinstance(v, PortState) else None
        if found is not None and a in found:
            return
        if len(found or ()) >= cap or self.discovered_count >= DISCOVERED_TOTAL:
            self.stats["discovered_dropped"] += 1
            return
        state = self._rich(k)
        if state.discovered is None:
            state.discovered = {}
        state.discovered[a] = b
        self.discovered_count += 1

    def _changed(self, port: PortKey, moved: bool = False) -> None:
        self.version += 1
        if self.changes is not None:
            self.changes.append((port, moved))


def realized(v: Port, a: int) -> int:
    """The port's packed binding of address int `a`, or 0."""
    if isinstance(v, PortState):
        return next((b for b in v.realized if pk.binding_address(b) == a), 0)
    b = pk.split(v)[0]
    return b if b and pk.binding_address(b) == a else 0


def endpoint_of(v: Port) -> int:
    return v.endpoint if isinstance(v, PortState) else pk.split(v)[1]


def count(v: Port, method: Method) -> int:
    """How many of the port's realized bindings were learned by `method`."""
    if isinstance(v, PortState):
        return sum(1 for b in v.realized if pk.binding_method(b) is method)
    b = pk.split(v)[0]
    return int(bool(b) and pk.binding_method(b) is method)
