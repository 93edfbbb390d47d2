"""unlearned-port: a port with no binding of that address family sends IP traffic (info, once)."""

from __future__ import annotations

from detector.bindings.learn import EXEMPT_SOURCES
from detector.detectors import Context, Finding, Observation
from detector.values import AlertKind, Severity


class UnlearnedPort:
    """The capture began mid-conversation, or the port never ARPs: nothing to check against yet."""

    name = "unlearned_port"

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]:
        src = obs.frame.src_ip
        if src is None or src in EXEMPT_SOURCES or obs.gateway or ctx.strict or not obs.tracked:
            return []
        ipv6 = ":" in src
        if ctx.table.has_family(obs.port, ipv6):
            return []
        family = "IPv6" if ipv6 else "IPv4"
        return [
            Finding(
                AlertKind.UNLEARNED_PORT,
                Severity.INFO,
                src,
                f"{obs.port.mac} in {obs.port.segment} sent from {src} before any {family}"
                " binding was learned for it (the capture may have started mid-conversation)",
                key=family,
            )
        ]
