"""rogue-dhcp: a DHCP OFFER/ACK from a port not configured as its segment's DHCP server."""

from __future__ import annotations

from detector.bindings.learn import is_server_reply
from detector.detectors import Context, Finding, Observation
from detector.values import AlertKind, Severity


class RogueDhcp:
    """Only where servers are configured for the segment; relays (gateway MACs) are trusted."""

    name = "rogue_dhcp"

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]:
        frame = obs.frame
        if frame.dhcp is None or not is_server_reply(frame):
            return []
        if ctx.trust.is_trusted_dhcp_server(obs.port):
            return []
        d = frame.dhcp
        return [
            Finding(
                AlertKind.ROGUE_DHCP,
                Severity.CRITICAL,
                frame.src_ip,
                f"{obs.port.mac} in {obs.port.segment} answered DHCP (offering {d.yiaddr} to"
                f" {d.chaddr}) but is not a configured DHCP server; nothing was learned from it",
                detail=(("yiaddr", d.yiaddr), ("client", d.chaddr), ("xid", d.xid)),
                key="",
            )
        ]
