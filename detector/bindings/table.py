"""The binding table: which addresses each port (segment, MAC) is bound to, NSX IP-discovery style.

Semantics (DESIGN §4, after NSX-T's IPDiscoveryProfile): snooped addresses are realized in
trust-on-first-use order up to a per-method limit (ARP 1, ND 3); past the limit they are only
discovered. An address realized on another port of the same segment is a duplicate: recorded,
not realized. Manual bindings (addresses or CIDRs) are always realized. In trust-on-every-use
mode snooped bindings expire when not refreshed within the timeout (capture time).
Storage is `ports.PortStore`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from detector.bindings import packed as pk
from detector.bindings.ports import Network, PortState, PortStore, count, realized
from detector.config.bindings import BindingPolicy
from detector.values import Binding, Evidence, Method, PortKey

__all__ = ["BindingTable", "LearnResult", "Network", "Outcome", "PortLimits"]
_SNOOPED = (Method.ARP, Method.ND)


@dataclass(frozen=True, slots=True)
class PortLimits:
    """What the wire may teach a port NSX knows: the limits of its effective discovery profile."""

    arp: int  # 0 when the profile does not snoop ARP
    nd: int
    dhcp: bool
    ignored: frozenset[int] = frozenset()  # ignored_address_bindings (packed): never learned


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


class BindingTable(PortStore):
    """Ports and their bindings, with an index from (segment, address) to the owning port."""

    def __init__(self, policy: BindingPolicy | None = None) -> None:
        super().__init__()
        self.policy = policy or BindingPolicy()
        self.on_realize: Callable[[PortKey, Binding], None] | None = None  # the state store
        self.limits: dict[int, PortLimits] = {}  # ports NSX knows: their own limits

    def ensure(self, port: PortKey) -> bool:
        """Make sure the port exists; False when the table is at its cap and it does not."""
        return self._create(port, self.policy.max_ports) is not None

    def owner(self, segment: str, address: str, now_ns: int) -> PortKey | None:
        """The port an address is realized on in a segment, if any (after TOEU expiry)."""
        seg = self.codec.segments.find(segment)
        if seg is None:
            return None
        a = pk.addr_int(address)
        k = self._owners.get(pk.owner_key(a, seg))
        if k is None or self._expired(k, a, now_ns):
            return None
        return self.codec.port_of(k)

    def is_bound(self, port: PortKey, address: str, now_ns: int) -> bool:
        """Is the address realized on the port (exactly, or inside a manual network)?"""
        k = self._find(port)
        if k is None:
            return False
        v, a = self._ports[k], pk.addr_int(address)
        if realized(v, a):
            return not self._expired(k, a, now_ns)
        if isinstance(v, PortState) and v.networks:
            ip = ipaddress.ip_address(address)
            return any(ip in net for net, _ in v.networks)
        return False

    def learn(self, port: PortKey, address: str, method: Method, evidence: Evidence) -> LearnResult:
        """Apply one snooped (or manual) address to the table and say what happened."""
        k = self._create(port, self.policy.max_ports)
        if k is None:
            return LearnResult(port, address, method, Outcome.TABLE_FULL)
        now, a, v = evidence.ts_ns, pk.addr_int(address), self._ports[k]
        if realized(v, a) and not self._expired(k, a, now):
            self._refresh(k, a, now)
            return LearnResult(port, address, method, Outcome.KNOWN)
        if isinstance(v, PortState) and v.networks and self.is_bound(port, address, now):
            return LearnResult(port, address, method, Outcome.KNOWN)  # inside a manual CIDR
        b = self.codec.pack(a, method, evidence, False)
        owner = self.owner(port.segment, address, now)
        if owner is not None and owner != port and method is not Method.MANUAL:
            self._discover(k, b, self.policy.max_discovered_per_port)
            return LearnResult(port, address, method, Outcome.CONFLICT, owner)
        limit = self._limit(method, a, k)
        if limit is not None and count(self._ports[k], method) >= limit:
            self._discover(k, b, self.policy.max_discovered_per_port)
            return LearnResult(port, address, method, Outcome.LIMIT)
        self._realize(k, port, a, b)
        self._refresh(k, a, now)
        self.stats[f"realized:{method}"] += 1
        if self.on_realize is not None:
            self.on_realize(port, Binding(address, method, evidence))
        return LearnResult(port, address, method, Outcome.REALIZED)

    def add_network(self, port: PortKey, network: Network) -> None:
        """Bind a manual address or CIDR to a port; manual bindings are always realized."""
        k = self._create(port, self.policy.max_ports)
        if k is None:
            return
        self.stats[f"realized:{Method.MANUAL}"] += 1
        if network.num_addresses == 1:
            a = pk.addr_int(str(network.network_address))
            self._realize(k, port, a, self.codec.pack(a, Method.MANUAL, None, False))
            return
        state = self._rich(k)
        state.networks = [
            *(state.networks or ()),
            (network, Binding(str(network), Method.MANUAL, None)),
        ]
        self.realized_count += 1
        self._changed(port)

    def restore(self, port: PortKey, binding: Binding) -> None:
        """Put back a binding read from the state store, as it was (no limit, no conflict)."""
        k = self._create(port, self.policy.max_ports)
        if k is None:
            return
        if "/" in binding.address:  # a manual network imported with `bindings import`
            network = ipaddress.ip_network(binding.address)
            state = self._rich(k)
            if any(n == network for n, _ in state.networks or ()):
                return
            state.networks = [*(state.networks or ()), (network, binding)]
        else:
            a = pk.addr_int(binding.address)
            if realized(self._ports[k], a):
                return
            b = self.codec.pack(a, binding.method, binding.evidence, binding.restored)
            self._put(k, a, b)
            self._owners.setdefault(pk.owner_key(a, pk.segment_id(k)), k)
        self.realized_count += 1
        self.stats["restored"] += 1

    def replace(
        self,
        port: PortKey,
        bindings: Sequence[Binding],
        networks: Sequence[tuple[Network, Binding]],
        discovered: Sequence[Binding],
        limits: PortLimits,
    ) -> bool:
        """Make the port hold exactly these realized bindings (NSX's view of it) and learn from
        the wire within `limits` from now on; False when the table is full."""
        k = self._create(port, self.policy.max_ports)
        if k is None:
            return False
        self.limits[k] = limits
        want: dict[int, int] = {}
        for binding in bindings:
            a = pk.addr_int(binding.address)
            want[a] = self.codec.pack(a, binding.method, binding.evidence, False)
        v = self._ports[k]
        for b in v.realized if isinstance(v, PortState) else (pk.split(v)[0],):
            if b and want.get(pk.binding_address(b)) != b:
                self._unrealize(k, pk.binding_address(b))
        for a, b in want.items():
            if realized(self._ports[k], a) != b:
                self._realize(k, port, a, b)
        v = self._ports[k]
        if list(networks) != list(v.networks or () if isinstance(v, PortState) else ()):
            state = self._rich(k)
            self.realized_count += len(networks) - len(state.networks or ())
            state.networks = list(networks) or None
            self._changed(port, moved=True)
        for found in discovered:
            a, v = pk.addr_int(found.address), self._ports[k]
            known = isinstance(v, PortState) and a in (v.discovered or {})
            if not known and not realized(v, a):
                self._discover(k, self.codec.pack(a, found.method, found.evidence, False), 1 << 12)
        return True

    def adopt(self, port: PortKey, binding: Binding) -> bool:
        """Realize a binding the fleet's shared store settled (its limits and conflicts were
        judged there); an address this collector had realized on another port goes. False when
        it was already realized or the table is full."""
        k = self._create(port, self.policy.max_ports)
        a = pk.addr_int(binding.address)
        if k is None or realized(self._ports[k], a):
            return False
        held = self._owners.get(pk.owner_key(a, pk.segment_id(k)))
        if held is not None and held != k:
            self._unrealize(held, a)
        self._realize(k, port, a, self.codec.pack(a, binding.method, binding.evidence, True))
        self.stats["adopted"] += 1
        return True

    def forget(self, port: PortKey, address: str) -> Binding | None:
        """Take back a realized binding the shared store refused; it stays discovered."""
        k = self._find(port)
        b = realized(self._ports[k], pk.addr_int(address)) if k is not None else 0
        if k is None or not b:
            return None
        self._unrealize(k, pk.binding_address(b))
        self._discover(k, b, self.policy.max_discovered_per_port)
        return self.codec.unpack(b)

    def limit_of(self, port: PortKey, method: Method, address: str) -> int | None:
        """The limit a port's realized bindings by `method` are held to (None: no limit)."""
        k = self._find(port)
        return None if k is None else self._limit(method, pk.addr_int(address), k)

    def release(self, port: PortKey) -> None:
        """NSX no longer knows the port: the wire teaches it under the table's own limits."""
        k = self._find(port)
        if k is not None:
            self.limits.pop(k, None)

    def _limit(self, method: Method, a: int, k: int) -> int | None:
        if method is Method.FLOW:  # first-seen flows follow the ARP / ND limits of their family
            method = Method.ND if a & 1 else Method.ARP
        own = self.limits.get(k) if self.limits else None
        if own is not None:
            if a in own.ignored:  # NSX's IP discovery ignores it on this port: never realized
                return 0
            if method is Method.DHCP:
                return None if own.dhcp else 0
            return own.arp if method is Method.ARP else own.nd if method is Method.ND else None
        if method is Method.ARP:
            return self.policy.arp_binding_limit
        return self.policy.nd_binding_limit if method is Method.ND else None

    def _refresh(self, k: int, a: int, now_ns: int) -> None:
        if not self.policy.trust_on_first_use:
            state = self._rich(k)
            if state.refreshed is None:
                state.refreshed = {}
            state.refreshed[a] = now_ns

    def _expired(self, k: int, a: int, now_ns: int) -> bool:
        """In TOEU mode, drop a snooped binding not refreshed within the timeout."""
        if self.policy.trust_on_first_use:
            return False
        v = self._ports[k]
        b = realized(v, a)
        if not b or pk.binding_method(b) not in _SNOOPED:
            return False
        last = (v.refreshed or {}).get(a, now_ns) if isinstance(v, PortState) else now_ns
        if now_ns - last <= self.policy.binding_timeout_ns:
            return False
        self._unrealize(k, a)
        self.stats["expired"] += 1
        return True
