"""The detection engine: attribute a frame to its port, learn, run detectors, deduplicate alerts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from detector.bindings.learn import learn
from detector.bindings.table import BindingTable, LearnResult, Outcome
from detector.config.bindings import TrustPolicy
from detector.config.detectors import EngineConfig
from detector.detectors import Context, Detector, Finding, Observation, load
from detector.shards import shard_of
from detector.values import (
    Alert,
    AlertKind,
    Evidence,
    Frame,
    PortKey,
    Severity,
    is_unicast,
    segment_of,
)

AlertKey = tuple[AlertKind, PortKey, str | None]
TABLE_PORT = PortKey("*", "*")
LEARNING = ("binding_limit", "arp_conflict", "nd_conflict")  # judge what learning did


def alert_key(kind: AlertKind, port: PortKey, address: str | None, key: str | None) -> AlertKey:
    """What an alert is deduplicated on: (kind, port, key), else (kind, port, address)."""
    return (kind, port, address if key is None else key)


@dataclass(slots=True)
class _Tally:
    count: int
    last_alert_ns: int
    first: Alert


@dataclass(slots=True)
class EngineStats:
    """Counters for metrics and the end-of-run summary."""

    frames: Counter[str] = field(default_factory=Counter)  # inspected / ignored:<reason>
    alerts: Counter[str] = field(default_factory=Counter)  # alerts emitted, by kind
    findings: Counter[str] = field(default_factory=Counter)  # packets behind each kind


class Engine:
    """Turn frames into alerts against one binding table."""

    def __init__(
        self,
        table: BindingTable,
        trust: TrustPolicy | None = None,
        config: EngineConfig | None = None,
    ) -> None:
        self.table = table
        self.config = config or EngineConfig()
        self.ctx = Context(table, trust or TrustPolicy(), self.config.strict)
        self.detectors: list[Detector] = [load(n) for n in self.config.detectors]
        self.tallies: dict[AlertKey, _Tally] = {}
        self.stats = EngineStats()
        self.last_port: PortKey | None = None  # the port of the last frame inspected, or None
        self.sharded = bool(self.config.only) or self.config.shard != (1, 1)
        # called with a port the table does not know yet, before its frame is judged (NSX
        # segments waiting for the wire to give their VNI)
        self.unknown_port: Callable[[PortKey], object] | None = None
        self._mine: dict[str, bool] = {}

    def mine(self, segment: str) -> bool:
        """Is the segment this collector's to judge ([segments] only and shard)?"""
        known = self._mine.get(segment)
        if known is None:
            only, (k, n) = self.config.only, self.config.shard
            known = (not only or segment in only) and shard_of(segment, n) == k
            if len(self._mine) >= 1 << 16:  # hostile VNIs cannot grow it
                self._mine.clear()
            self._mine[segment] = known
        return known

    def process(self, frame: Frame, source: str) -> list[Alert]:
        """Inspect one frame; return the alerts it raises (after deduplication)."""
        stats = self.stats.frames
        mac = frame.src_mac
        self.last_port = None
        if frame.encap is None and not frame.flow and not self.config.inspect_untunnelled:
            stats["ignored:untunnelled"] += 1
            return []
        if frame.oam:
            stats["ignored:geneve-oam"] += 1
            return []
        if mac is None:
            stats["ignored:no-mac"] += 1
            return []
        if not is_unicast(mac):
            stats["ignored:group-source-mac"] += 1
            return []
        segment = segment_of(frame, self.config.scope_by_session)
        if self.sharded and not self.mine(segment):
            stats["ignored:other-shard"] += 1
            return []
        stats["inspected"] += 1
        port = self.last_port = PortKey(segment, mac)
        evidence = Evidence(frame.origin or source, frame.packet, frame.ts_ns)
        if self.unknown_port is not None and port not in self.table:
            self.unknown_port(port)
        tracked = self.table.ensure(port)
        findings: list[Finding] = []
        if not tracked:
            findings.append(self._table_full())
        previous = self.table.endpoint(port) if tracked else None
        learned = learn(self.table, self.ctx.trust, frame, port, evidence) if tracked else ()
        if any(r.outcome is Outcome.TABLE_FULL for r in learned):  # a DHCP client's port
            findings.append(self._table_full())
        gateway = self.ctx.trust.is_gateway(mac)
        obs = Observation(frame, port, evidence, learned, previous, gateway, tracked)
        for detector in self.detectors:
            findings.extend(detector.inspect(obs, self.ctx))
        if tracked and frame.outer_src and is_unicast(frame.dst_mac):
            self.table.move(port, frame.outer_src)
        return [a for f in findings if (a := self._alert(f, obs)) is not None]

    def refused(self, result: LearnResult, evidence: Evidence, why: str) -> list[Alert]:
        """The alerts of a binding learned here that a shared store refused (`result` says
        why: limit or conflict): those its packet raises when the store is asked first."""
        port = result.port
        kind, _, vni = port.segment.partition(":")
        tunnel = kind in ("geneve", "vxlan") and vni.isdigit()
        frame = Frame(
            evidence.packet, evidence.ts_ns, kind if tunnel else None,
            int(vni) if tunnel else None, None, None, port.mac, None, (), None, None, None, None,
        )  # fmt: skip
        obs = Observation(frame, port, evidence, (result,), None, False)
        out = []
        for detector in self.detectors:
            if detector.name in LEARNING:
                for f in detector.inspect(obs, self.ctx):
                    said = replace(
                        f,
                        message=f"{f.message} (settled by {why})",
                        detail=(*f.detail, ("settled_by", why)),
                    )
                    if (alert := self._alert(said, obs)) is not None:
                        out.append(alert)
        return out

    def settles(
        self, port: PortKey, source: str | None, endpoint: str, unicast: bool, learns: bool
    ) -> bool:
        """Would the port sending from `source` (None: nothing to check) behind `endpoint` change
        nothing now: no alert, no binding, no move? The batch paths only count such frames.
        `learns`: the frame teaches its source (ARP, flows learned from), so a gateway's too."""
        table = self.table
        if port not in table or (self.sharded and not self.mine(port.segment)):
            return False  # the exact path creates the port (and may find the table full)
        if unicast and table.endpoint(port) != endpoint:
            return False  # first sighting, or a move
        if source is None:
            return True
        if not learns and self.ctx.trust.is_gateway(port.mac):
            return True
        return table.is_bound(port, source, 0)

    def entitled(self, port: PortKey, source: str, now_ns: int) -> bool:
        """May the port send from `source` now: bound to it, or a trusted gateway's routing?"""
        return self.ctx.trust.is_gateway(port.mac) or self.table.is_bound(port, source, now_ns)

    def _table_full(self) -> Finding:
        cap = self.table.policy.max_ports
        return Finding(
            AlertKind.TABLE_FULL,
            Severity.WARNING,
            None,
            f"the binding table holds its maximum of {cap} ports; new ports are not tracked"
            " (a MAC flood, or raise bindings.max_ports)",
            key="",
        )

    def _alert(self, f: Finding, obs: Observation) -> Alert | None:
        self.stats.findings[f.kind] += 1
        port = TABLE_PORT if f.kind is AlertKind.TABLE_FULL else obs.port
        key = alert_key(f.kind, port, f.address, f.key)
        now = obs.evidence.ts_ns
        tally = self.tallies.get(key)
        unlearned = tally is None and f.kind is AlertKind.UNLEARNED_PORT
        if unlearned and not self.table.first_unlearned(port, f.key == "IPv6"):
            return None  # reported once already; its key was forgotten since
        if tally is not None:
            tally.count += 1
            realert = self.config.realert_ns
            if not realert or now - tally.last_alert_ns < realert:
                return None
            tally.last_alert_ns = now
            return self._build(f, obs, port, tally.count, tally.first.first_seen_ns)
        alert = self._build(f, obs, port, 1, now)
        if len(self.tallies) >= self.config.max_alert_keys:
            oldest = next(iter(self.tallies))
            if oldest[0] is AlertKind.TABLE_FULL:  # raised once a run: never forgotten
                self.tallies[oldest] = self.tallies.pop(oldest)
                oldest = next(iter(self.tallies))
            self.tallies.pop(oldest)
            self.stats.frames["alert-keys-evicted"] += 1
        self.tallies[key] = _Tally(1, now, alert)
        return alert

    def _build(
        self, f: Finding, obs: Observation, port: PortKey, count: int, first_ns: int
    ) -> Alert:
        self.stats.alerts[f.kind] += 1
        return Alert(
            kind=f.kind,
            severity=f.severity,
            port=port,
            vni=obs.frame.vni if obs.frame.encap in ("geneve", "vxlan") else None,
            src_ip=f.address,
            evidence=obs.evidence,
            count=count,
            bindings=self.table.bindings(obs.port),
            impersonates=f.impersonates,
            message=f.message,
            first_seen_ns=first_ns,
            detail=f.detail,
            key=f.key,
        )

    def packets(self, alert: Alert) -> int:
        """Packets seen so far behind an alert's key (0 once the key was evicted): a sink that
        keeps alerts active (Alertmanager) reads it to know whether the source still sends."""
        tally = self.tallies.get(alert_key(alert.kind, alert.port, alert.src_ip, alert.key))
        return tally.count if tally is not None else 0
