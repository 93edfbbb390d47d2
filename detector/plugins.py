"""The registries: every plugin by name → "module:Class", imported only when it is used.

One plugin = one module = one name; tests/test_conventions.py checks each entry resolves.
"""

from __future__ import annotations

import importlib
from typing import Any

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

# Where alerts go, by the name that turns each on: the alerts file's `[alerts] format`, or a
# `[sinks.<name>]` section.
SINKS = {
    "jsonl": "detector.sinks.jsonl:JsonlSink",
    "ecs": "detector.sinks.ecs:EcsSink",
    "text": "detector.sinks.text:TextSink",
    "alertmanager": "detector.sinks.alertmanager:AlertmanagerSink",
    "syslog": "detector.sinks.syslog:SyslogSink",
}

# What `spoofwatch run` reads, by `[source] kind`; each class has `from_config(RunConfig)`.
SOURCES = {
    "live": "detector.sources.live:AfPacketSource",
    "udp": "detector.sources.udp:UdpTunnelSource",
}


def resolve(target: str) -> Any:
    """The class a registry entry names, its module imported now."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
