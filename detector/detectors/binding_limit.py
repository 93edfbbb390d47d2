"""binding-limit: a port claimed one more address than its ARP/ND limit (usually the IP change)."""

from __future__ import annotations

from detector.bindings.table import Outcome
from detector.detectors import Context, Finding, Observation
from detector.values import AlertKind, Method, Severity


class BindingLimit:
    """An address discovered, not realized: the port is at its trust-on-first-use limit."""

    name = "binding_limit"

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]:
        out = []
        policy = ctx.table.policy
        for r in obs.learned:
            if r.outcome is not Outcome.LIMIT:
                continue
            ipv6 = r.method is Method.ND or ":" in r.address
            limit = policy.nd_binding_limit if ipv6 else policy.arp_binding_limit
            out.append(
                Finding(
                    AlertKind.BINDING_LIMIT,
                    Severity.WARNING,
                    r.address,
                    f"{r.port.mac} in {r.port.segment} claimed {r.address} by {r.method} but is"
                    f" at its limit of {limit}; the address is discovered, not bound",
                    detail=(("method", str(r.method)), ("limit", limit)),
                )
            )
        return out
