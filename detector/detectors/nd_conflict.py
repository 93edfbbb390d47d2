"""nd-conflict: an NS/NA claims an IPv6 address realized on another port of the segment."""

from __future__ import annotations

from detector.detectors import Context, Finding, Observation
from detector.detectors.arp_conflict import conflicts
from detector.values import AlertKind, Method


class NdConflict:
    """Neighbour-discovery spoofing or a duplicate address (RFC 3756 §4.1.1)."""

    name = "nd_conflict"

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]:
        return conflicts(obs, ctx, Method.ND, AlertKind.ND_CONFLICT)
