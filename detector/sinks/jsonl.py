"""JSON-lines alerts (one object per line, UTF-8): the contract of DESIGN §5, schema version 1."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import IO, Any

from detector.errors import SinkError
from detector.values import Alert, Binding, nsx_source, rfc3339

SCHEMA_VERSION = 1


def binding_to_dict(b: Binding) -> dict[str, Any]:
    ev, nsx = b.evidence, nsx_source(b)
    d: dict[str, Any] = {
        "address": b.address,
        "method": str(b.method),
        "learned_at": rfc3339(ev.ts_ns) if ev else None,
        "evidence": {"file": ev.source, "packet": ev.packet} if ev and not nsx else None,
    }
    if nsx:
        d["learned_by"] = f"nsx {nsx}"  # NSX realized it (not the wire)
    if b.restored:
        d["restored"] = True  # learned before a restart, read back from the state store
    return d


def alert_to_dict(a: Alert) -> dict[str, Any]:
    """The one place an Alert becomes JSON; keys in a fixed order, no wall-clock fields."""
    imp = None
    if a.impersonates is not None:
        port, binding = a.impersonates
        imp = {"mac": port.mac, **binding_to_dict(binding)}
    return {
        "event_type": "alert",
        "schema": SCHEMA_VERSION,
        "kind": str(a.kind),
        "severity": str(a.severity),
        "segment": a.port.segment,
        "vni": a.vni,
        "mac": a.port.mac,
        "src_ip": a.src_ip,
        "first_seen": rfc3339(a.first_seen_ns),
        "count": a.count,
        "bindings": [binding_to_dict(b) for b in a.bindings],
        "impersonates": imp,
        "evidence": {
            "file": a.evidence.source,
            "packet": a.evidence.packet,
            "time": rfc3339(a.evidence.ts_ns),
        },
        "message": a.message,
        "detail": dict(a.detail),
    }


def dumps(a: Alert) -> str:
    return json.dumps(alert_to_dict(a), ensure_ascii=False, separators=(",", ":"))


class JsonlSink:
    """Write alerts to a path, or to standard output for `-`; flushed after every batch."""

    name = "jsonl"

    def __init__(self, path: str = "-", append: bool = False) -> None:
        self.path = path
        self.mode = "a" if append else "w"  # a daemon appends: a restart keeps the history
        self._out: IO[str] = self._open()

    def _open(self) -> IO[str]:
        if self.path == "-":
            return sys.stdout
        try:
            return open(self.path, self.mode, encoding="utf-8")
        except OSError as exc:
            raise SinkError(f"alerts file {self.path}: {exc.strerror}") from exc

    def reopen(self) -> None:
        """Open the path again (after logrotate moved it away); appends from now on."""
        if self.path != "-":
            self._out.close()
            self.mode = "a"
            self._out = self._open()

    def render(self, alert: Alert) -> str:
        """One alert as the text written for it (a JSON line here)."""
        return dumps(alert) + "\n"

    def emit(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        try:
            self._out.write("".join(self.render(a) for a in alerts))
            self._out.flush()
        except OSError as exc:
            raise SinkError(f"alerts file {self.path}: {exc.strerror}") from exc

    def close(self) -> None:
        if self._out is not sys.stdout:
            self._out.close()
