"""Alerts in Elastic Common Schema 8.x (one JSON object per line), for Elastic, Splunk and other
SIEMs; what ECS has no field for (segment, VNI, bindings) lives under `spoofwatch.*`."""

from __future__ import annotations

import json
from typing import Any

from detector import __version__
from detector.sinks.jsonl import JsonlSink, alert_to_dict
from detector.values import Alert

ECS_VERSION = "8.11.0"
# event.severity is a number; these are the risk bands Elastic's detection rules use.
SEVERITY_SCORE = {"critical": 99, "warning": 47, "info": 21}


def ecs_mac(mac: str) -> str:
    """ECS writes MACs as RFC 7042 suggests: upper case, hyphens (00-00-5E-00-53-23)."""
    return mac.upper().replace(":", "-")


def to_ecs(alert: Alert, observer: dict[str, Any] | None = None) -> dict[str, Any]:
    """Map one alert; `observer` adds the collector's own fields (hostname, interface) in `run`."""
    d = alert_to_dict(alert)
    related = [d["src_ip"]] if d["src_ip"] else []
    related += [b["address"] for b in d["bindings"] if "/" not in b["address"]]
    if d["impersonates"]:
        related.append(d["impersonates"]["address"])
    source: dict[str, Any] = {}
    if d["src_ip"]:
        source["ip"] = d["src_ip"]
    if d["mac"] != "*":  # the table-full alert belongs to no port
        source["mac"] = ecs_mac(d["mac"])
    doc: dict[str, Any] = {
        "@timestamp": d["evidence"]["time"],
        "ecs": {"version": ECS_VERSION},
        "message": d["message"],
        "event": {
            "kind": "alert",
            "category": ["network", "intrusion_detection"],
            "type": ["info"],
            "module": "spoofwatch",
            "dataset": "spoofwatch.alert",
            "action": d["kind"],
            "severity": SEVERITY_SCORE[d["severity"]],
            "start": d["first_seen"],
            "reason": d["message"],
        },
        "log": {"level": d["severity"]},
        "rule": {"name": d["kind"], "ruleset": "spoofwatch", "category": "address-binding"},
        "observer": {
            "type": "ids",
            "vendor": "spoofwatch",
            "product": "spoofwatch",
            "version": __version__,
            **(observer or {}),
        },
        "related": {"ip": list(dict.fromkeys(related))},
        "spoofwatch": {
            "schema": d["schema"],
            "segment": d["segment"],
            "vni": d["vni"],
            "count": d["count"],
            "bindings": d["bindings"],
            "impersonates": d["impersonates"],
            "evidence": d["evidence"],
            "detail": d["detail"],
        },
    }
    if source:
        doc["source"] = source
    if d["segment"].startswith("vlan:") and "." not in d["segment"]:
        doc["network"] = {"vlan": {"id": d["segment"][5:]}}
    return doc


class EcsSink(JsonlSink):
    """Write ECS documents, one per line, to a path or standard output."""

    name = "ecs"

    def __init__(
        self, path: str = "-", append: bool = False, observer: dict[str, Any] | None = None
    ) -> None:
        super().__init__(path, append)
        self.observer = observer

    def render(self, alert: Alert) -> str:
        doc = to_ecs(alert, self.observer)
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n"
