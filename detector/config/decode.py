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
