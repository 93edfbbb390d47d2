"""The registries: every plugin by name → "module:Class", imported only when it is used.

One plugin = one module = one name; tests/test_conventions.py checks each entry resolves.
"""

from __future__ import annotations

PLUGINS = {
    "unbound_source": "detector.detectors.unbound_source:UnboundSource",
    "unlearned_port": "detector.detectors.unlearned_port:UnlearnedPort",
    "binding_limit": "detector.detectors.binding_limit:BindingLimit",
    "arp_conflict": "detector.detectors.arp_conflict:ArpConflict",
    "nd_conflict": "detector.detectors.nd_conflict:NdConflict",
    "mac_move": "detector.detectors.mac_move:MacMove",
    "rogue_dhcp": "detector.detectors.rogue_dhcp:RogueDhcp",
}

# Detectors of closed windows rather than frames, each turned on by its own section.
WINDOW_PLUGINS = {"anomaly": "detector.detectors.anomaly:Anomaly"}
