"""unbound-source: a port sends an IP packet from an address it is not bound to (the DFW bypass)."""

from __future__ import annotations

from detector.bindings.learn import EXEMPT_SOURCES
from detector.detectors import Context, Finding, Observation, owner_of
from detector.values import AlertKind, Binding, Severity, nsx_source, rfc3339


def _described(b: Binding) -> str:
    """An address, and where NSX learned it when NSX did (what the DFW resolves)."""
    how = nsx_source(b)
    if how is None or b.evidence is None:
        return b.address
    return f"{b.address} learned by nsx {how} at {rfc3339(b.evidence.ts_ns)}"


class UnboundSource:
    """The headline detector: inner source IP not realized on the (segment, MAC) port."""

    name = "unbound_source"

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]:
        src = obs.frame.src_ip
        if src is None or src in EXEMPT_SOURCES or obs.gateway or not obs.tracked:
            return []  # an untracked port (the table is full) has no bindings to judge by
        if not ctx.strict and not ctx.table.has_family(obs.port, ":" in src):
            return []  # unlearned_port reports this: an IPv4 binding says nothing of IPv6
        if ctx.table.is_bound(obs.port, src, obs.evidence.ts_ns):
            return []
        owner = owner_of(ctx, obs.port.segment, src, obs.evidence.ts_ns)
        bound = [_described(b) for b in ctx.table.bindings(obs.port)]
        noun = "address" if len(bound) == 1 else "addresses"
        if owner:
            why = f"; {src} is bound to {owner[0].mac}, so the DFW treats this traffic as that VM's"
        else:
            why = f"; DFW rules that match this VM by its bound {noun} ({', '.join(bound)}) miss it"
        return [
            Finding(
                AlertKind.UNBOUND_SOURCE,
                Severity.CRITICAL,
                src,
                f"{obs.port.mac} in {obs.port.segment} sent from {src}, an address it is not"
                f" bound to{why}",
                impersonates=owner,
            )
        ]
