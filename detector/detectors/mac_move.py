"""mac-move: the same MAC in the same segment appears behind another tunnel endpoint (info)."""

from __future__ import annotations

from detector.detectors import Context, Finding, Observation
from detector.values import AlertKind, Severity, is_unicast


class MacMove:
    """Usually vMotion; a MAC that keeps moving between hosts may be cloned.

    Only frames to a unicast destination count: hierarchical (MTEP) replication re-sends
    broadcast and multicast frames from another host's endpoint.
    """

    name = "mac_move"

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]:
        frame = obs.frame
        before, now = obs.previous_endpoint, frame.outer_src
        if before is None or now is None or before == now or not is_unicast(frame.dst_mac):
            return []
        return [
            Finding(
                AlertKind.MAC_MOVE,
                Severity.INFO,
                frame.src_ip,
                f"{obs.port.mac} in {obs.port.segment} moved from tunnel endpoint {before} to"
                f" {now} (live migration, or a cloned MAC)",
                detail=(("from_endpoint", before), ("to_endpoint", now)),
                key="",
            )
        ]
