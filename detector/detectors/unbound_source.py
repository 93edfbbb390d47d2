"""unbound-source: a port sends an IP packet from an address it is not bound to (the DFW bypass)."""

from __future__ import annotations

from detector.bindings.learn import EXEMPT_SOURCES
from detector.detectors import Context, Finding, Observation, owner_of
from detector.model import AlertKind, Severity


class UnboundSource:
    """The headline detector: inner source IP not realized on the (segment, MAC) port."""

    name = "unbound_source"

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]:
        src = obs.frame.src_ip
        if src is None or src in EXEMPT_SOURCES or obs.gateway:
            return []
        state = ctx.table.get(obs.port)
        has_bindings = state is not None and bool(state.realized or state.networks)
        if not has_bindings and not ctx.strict:
            return []  # unlearned_port reports this
        if ctx.table.is_bound(obs.port, src, obs.evidence.ts_ns):
            return []
        owner = owner_of(ctx, obs.port.segment, src, obs.evidence.ts_ns)
        whose = f"; it is bound to {owner[0].mac}" if owner else ""
        return [
            Finding(
                AlertKind.UNBOUND_SOURCE,
                Severity.CRITICAL,
                src,
                f"{obs.port.mac} in {obs.port.segment} sent from {src}, an address it is not"
                f" bound to{whose}",
                impersonates=owner,
            )
        ]
