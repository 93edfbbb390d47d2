"""arp-conflict: an ARP message claims an IPv4 address realized on another port of the segment."""

from __future__ import annotations

from detector.bindings.table import Outcome
from detector.detectors import Context, Finding, Observation, owner_of
from detector.values import AlertKind, Method, Severity

METHOD = Method.ARP
KIND = AlertKind.ARP_CONFLICT


class ArpConflict:
    """ARP spoofing or a duplicate address: the claimed address belongs to someone else."""

    name = "arp_conflict"

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]:
        return conflicts(obs, ctx, METHOD, KIND)


def conflicts(obs: Observation, ctx: Context, method: Method, kind: AlertKind) -> list[Finding]:
    """Findings for every address this frame claimed that another port owns (ARP or ND)."""
    out = []
    for r in obs.learned:
        if r.outcome is not Outcome.CONFLICT or r.method is not method or r.owner is None:
            continue
        owner = owner_of(ctx, r.port.segment, r.address, obs.evidence.ts_ns)
        out.append(
            Finding(
                kind,
                Severity.CRITICAL,
                r.address,
                f"{r.port.mac} in {r.port.segment} claimed {r.address} by {method}, which is"
                f" bound to {r.owner.mac}",
                impersonates=owner,
            )
        )
    return out
