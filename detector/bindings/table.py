"""The binding table: which addresses each port (segment, MAC) is bound to, NSX IP-discovery style.

Semantics (DESIGN §4, after NSX-T's IPDiscoveryProfile): snooped addresses are realized in
trust-on-first-use order up to a per-method limit (ARP 1, ND 3); past the limit they are only
discovered. An address realized on another port of the same segment is a duplicate: recorded,
not realized. Manual bindings (addresses or CIDRs) are always realized. In trust-on-every-use
mode snooped bindings expire when not refreshed within the timeout (capture time).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from detector.model import Binding, Evidence, Method, PortKey

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class BindingPolicy:
    """The knobs of IP discovery; defaults are NSX-T's."""

    arp_binding_limit: int = 1
    nd_binding_limit: int = 3
    trust_on_first_use: bool = True
    binding_timeout_ns: int = 600 * 1_000_000_000  # TOEU only (NSX arp_nd_binding_timeout 10 min)
    max_ports: int = 250_000  # ~840 B a port today: ~210 MB when a MAC flood fills it
    max_discovered_per_port: int = 16


class Outcome(Enum):
    """What learning one address did."""

    REALIZED = "realized"
    KNOWN = "known"  # already realized on this port
    LIMIT = "limit"  # discovered only: the port is at its limit for this method
    CONFLICT = "conflict"  # discovered only: realized on another port of the segment
    TABLE_FULL = "table-full"  # the port could not be created


@dataclass(frozen=True, slots=True)
class LearnResult:
    """The outcome of one learned address, with the port that owns it on a conflict."""

    port: PortKey
    address: str
    method: Method
    outcome: Outcome
    owner: PortKey | None = None


@dataclass(slots=True)
class PortState:
    """Everything known about one port."""

    realized: dict[str, Binding] = field(default_factory=dict)
    # The rest is rare, so it is created on first use (a million ports must stay small).
    refreshed: dict[str, int] | None = None  # address → capture ns of its last use (TOEU only)
    networks: list[tuple[Network, Binding]] | None = None  # manual CIDRs
    discovered: dict[str, Binding] | None = None  # past the limit, or duplicates
    endpoint: str | None = None  # the tunnel endpoint this MAC was last seen behind

    def count(self, method: Method) -> int:
        return sum(1 for b in self.realized.values() if b.method is method)

    def bindings(self) -> tuple[Binding, ...]:
        return (*self.realized.values(), *(b for _, b in self.networks or ()))

    def has_family(self, ipv6: bool) -> bool:
        """Does the port have any binding of this address family (IPv4 or IPv6)?"""
        return any((":" in a) == ipv6 for a in self.realized) or any(
            (n.version == 6) == ipv6 for n, _ in self.networks or ()
        )


class BindingTable:
    """Ports and their bindings, with an index from (segment, address) to the owning port."""

    def __init__(self, policy: BindingPolicy | None = None) -> None:
        self.policy = policy or BindingPolicy()
        self.ports: dict[PortKey, PortState] = {}
        self.owners: dict[tuple[str, str], PortKey] = {}
        self.stats: Counter[str] = Counter()  # realized:<method>, discovered:<method>, …
        self.version = 0  # bumped by every change a settled frame could depend on
        self.changes: list[tuple[PortKey, bool]] | None = None  # (port, moved) log, when tracked
        self.realized_count = 0
        self.on_realize: Callable[[PortKey, Binding], None] | None = None  # the state store

    def get(self, port: PortKey) -> PortState | None:
        return self.ports.get(port)

    def ensure(self, port: PortKey) -> PortState | None:
        """Return the port's state, creating it unless the table is at its cap."""
        state = self.ports.get(port)
        if state is None:
            if len(self.ports) >= self.policy.max_ports:
                self.stats["ports_refused"] += 1
                return None
            state = self.ports[port] = PortState()
        return state

    def owner(self, segment: str, address: str, now_ns: int) -> PortKey | None:
        """The port an address is realized on in a segment, if any (after TOEU expiry)."""
        key = self.owners.get((segment, address))
        if key is not None and self._expired(key, address, now_ns):
            return None
        return key

    def is_bound(self, port: PortKey, address: str, now_ns: int) -> bool:
        """Is the address realized on the port (exactly, or inside a manual network)?"""
        state = self.ports.get(port)
        if state is None:
            return False
        if address in state.realized:
            return not self._expired(port, address, now_ns)
        if state.networks:
            ip = ipaddress.ip_address(address)
            return any(ip in net for net, _ in state.networks)
        return False

    def learn(self, port: PortKey, address: str, method: Method, evidence: Evidence) -> LearnResult:
        """Apply one snooped (or manual) address to the table and say what happened."""
        state = self.ensure(port)
        if state is None:
            return LearnResult(port, address, method, Outcome.TABLE_FULL)
        now = evidence.ts_ns
        if address in state.realized and not self._expired(port, address, now):
            self._refresh(state, address, now)
            return LearnResult(port, address, method, Outcome.KNOWN)
        if state.networks and self.is_bound(port, address, now):
            return LearnResult(port, address, method, Outcome.KNOWN)  # inside a manual CIDR
        binding = Binding(address, method, evidence)
        owner = self.owner(port.segment, address, now)
        if owner is not None and owner != port and method is not Method.MANUAL:
            self._discover(state, binding)
            return LearnResult(port, address, method, Outcome.CONFLICT, owner)
        limits = {
            Method.ARP: self.policy.arp_binding_limit,
            Method.ND: self.policy.nd_binding_limit,
        }
        if method is Method.FLOW:  # first-seen flows follow the ARP / ND limits of their family
            limits[method] = limits[Method.ND if ":" in address else Method.ARP]
        if method in limits and state.count(method) >= limits[method]:
            self._discover(state, binding)
            return LearnResult(port, address, method, Outcome.LIMIT)
        state.realized[address] = binding
        self._refresh(state, address, now)
        if state.discovered:
            state.discovered.pop(address, None)
        self.owners[(port.segment, address)] = port
        self.stats[f"realized:{method}"] += 1
        self.realized_count += 1
        self._changed(port)
        if self.on_realize is not None:
            self.on_realize(port, binding)
        return LearnResult(port, address, method, Outcome.REALIZED)

    def add_network(self, port: PortKey, network: Network) -> None:
        """Bind a manual address or CIDR to a port; manual bindings are always realized."""
        state = self.ensure(port)
        if state is None:
            return
        self.stats[f"realized:{Method.MANUAL}"] += 1
        self.realized_count += 1
        self._changed(port)
        if network.num_addresses == 1:
            address = str(network.network_address)
            state.realized[address] = Binding(address, Method.MANUAL, None)
            self.owners[(port.segment, address)] = port
        else:
            state.networks = [
                *(state.networks or ()),
                (network, Binding(str(network), Method.MANUAL, None)),
            ]

    def move(self, port: PortKey, state: PortState, endpoint: str) -> None:
        """Record the tunnel endpoint a port now speaks from."""
        if state.endpoint != endpoint:
            self._changed(port, moved=state.endpoint is not None)
            state.endpoint = endpoint

    def binding_count(self) -> int:
        """Realized bindings now (addresses and manual networks)."""
        return self.realized_count

    def restore(self, port: PortKey, binding: Binding) -> None:
        """Put back a binding read from the state store, as it was (no limit, no conflict)."""
        state = self.ensure(port)
        if state is None or binding.address in state.realized:
            return
        state.realized[binding.address] = binding
        self.owners.setdefault((port.segment, binding.address), port)
        self.realized_count += 1
        self.stats["restored"] += 1

    def track_changes(self) -> None:
        """Start logging which ports change (drained by the batch path)."""
        self.changes = []

    def drain_changes(self) -> list[tuple[PortKey, bool]]:
        out, self.changes = self.changes or [], [] if self.changes is not None else None
        return out

    def _changed(self, port: PortKey, moved: bool = False) -> None:
        self.version += 1
        if self.changes is not None:
            self.changes.append((port, moved))

    def _discover(self, state: PortState, binding: Binding) -> None:
        self.stats[f"discovered:{binding.method}"] += 1
        if state.discovered is None:
            state.discovered = {}
        if binding.address in state.discovered:
            return
        if len(state.discovered) >= self.policy.max_discovered_per_port:
            self.stats["discovered_dropped"] += 1
            return
        state.discovered[binding.address] = binding

    def _refresh(self, state: PortState, address: str, now_ns: int) -> None:
        if not self.policy.trust_on_first_use:
            if state.refreshed is None:
                state.refreshed = {}
            state.refreshed[address] = now_ns

    def _expired(self, port: PortKey, address: str, now_ns: int) -> bool:
        """In TOEU mode, drop a snooped binding not refreshed within the timeout."""
        if self.policy.trust_on_first_use:
            return False
        state = self.ports[port]
        binding = state.realized.get(address)
        if binding is None or binding.method not in (Method.ARP, Method.ND):
            return False
        last = (state.refreshed or {}).get(address, now_ns)
        if now_ns - last <= self.policy.binding_timeout_ns:
            return False
        del state.realized[address]
        if state.refreshed:
            state.refreshed.pop(address, None)
        if self.owners.get((port.segment, address)) == port:
            del self.owners[(port.segment, address)]
        self.stats["expired"] += 1
        self.realized_count -= 1
        self._changed(port, moved=True)  # a binding was lost: what it settled is unsettled
        return True
