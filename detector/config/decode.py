"""The [decode] section's values: which UDP ports carry which tunnel, how deep tunnels nest."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DecodeConfig:
    """Which UDP ports carry which tunnel, and how deep tunnels may nest."""

    geneve_ports: frozenset[int] = frozenset((6081,))
    vxlan_ports: frozenset[int] = frozenset((4789, 8472))
    vxlan_gpe_ports: frozenset[int] = frozenset((4790,))
    ipfix_ports: frozenset[int] = frozenset((4739, 2055))  # IPFIX and NetFlow v9 to a collector
    max_depth: int = 3

    def udp_ports(self) -> dict[int, str]:
        """The UDP port table, destination port → what it carries (geneve, vxlan, vxlan-gpe,
        ipfix): the one binding of ports to protocols, read by the exact decode chain and by
        the batch kernel's masks alike (`[decode]` refuses a port given to two of them)."""
        table: dict[int, str] = {}
        for carried, ports in (
            ("geneve", self.geneve_ports),
            ("vxlan", self.vxlan_ports),
            ("vxlan-gpe", self.vxlan_gpe_ports),
            ("ipfix", self.ipfix_ports),
        ):
            for port in sorted(ports):
                table.setdefault(port, carried)
        return table
