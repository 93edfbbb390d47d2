"""Alerts pushed to Alertmanager (API v2, `POST /api/v2/alerts`), re-sent while active, resolved
with `endsAt` once their source falls quiet; several Alertmanagers (an HA pair) get each push."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from detector.config.sinks import AlertmanagerConfig
from detector.sinks.delivery import (
    DELIVERED,
    DROPPED,
    FAILED,
    Backoff,
    Burst,
    DeliveryThread,
    SinkStats,
    tls_context,
)
from detector.sinks.jsonl import alert_to_dict
from detector.values import Alert, rfc3339

CHUNK = 500  # alerts per POST


def alertname(kind: str) -> str:
    """`unbound-source` → `SpoofwatchUnboundSource`."""
    return "Spoofwatch" + "".join(part.capitalize() for part in kind.split("-"))


def to_alertmanager(alert: Alert, collector: str, generator_url: str) -> dict[str, Any]:
    """One alert as Alertmanager's postable alert: identity in labels, the story in annotations."""
    d = alert_to_dict(alert)
    labels = {
        "alertname": alertname(d["kind"]),
        "severity": d["severity"],
        "segment": d["segment"],
        "mac": d["mac"],
        "src_ip": d["src_ip"] or "",
        "collector": collector,
    }
    ev = d["evidence"]
    bound = ", ".join(
        f"{b['address']} ({b.get('learned_by') or b['method']})" for b in d["bindings"]
    )
    annotations = {
        "summary": d["message"],
        "evidence": f"{ev['file']} packet {ev['packet']} at {ev['time']}",
        "bindings": bound or "none",
        "packets": str(d["count"]),
    }
    if d["impersonates"]:
        imp = d["impersonates"]
        annotations["impersonates"] = f"{imp['mac']}, bound to {imp['address']} by {imp['method']}"
    for key, value in d["detail"].items():
        annotations[f"detail_{key}"] = (
            json.dumps(value) if isinstance(value, list | dict) else str(value)
        )
    return {
        "labels": {k: v for k, v in labels.items() if v},  # an empty label is no label
        "annotations": annotations,
        "startsAt": d["first_seen"],
        "generatorURL": generator_url,
    }


@dataclass(slots=True)
class _Active:
    alert: Alert
    body: dict[str, Any]
    packets: int  # packets behind it when last looked at
    last_active: float  # monotonic time its packet count last grew
    sent_at: float | None = None
    dirty: bool = True  # new or changed since the last successful send
    ends_at: str | None = None


def _fingerprint(body: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(body["labels"].items()))


class AlertmanagerSink:
    """Queue alerts and push them from a worker thread; `emit` never blocks on the network.

    `activity(alert)` gives the packets seen so far behind an alert (the engine's tally); when it
    is set (`spoofwatch run`), alerts are re-sent every `resend_seconds` while that grows and
    resolved `resolve_seconds` after it stops. Without it (replay) each alert is pushed once and
    Alertmanager resolves it after its own resolve_timeout."""

    def __init__(
        self,
        config: AlertmanagerConfig,
        collector: str,
        generator_url: str,
        activity: Callable[[Alert], int] | None = None,
    ) -> None:
        self.name = "alertmanager"
        self.config = config
        self.collector, self.generator_url = collector, generator_url
        self.activity = activity
        self.stats = SinkStats(self.name)
        self.active: dict[tuple[tuple[str, str], ...], _Active] = {}
        self.lock = threading.Lock()
        self.backoff = Backoff()
        self.retry_at = 0.0
        self.bursts = {url: Burst(f"alertmanager {url}") for url in config.urls}
        self.http = httpx.Client(
            headers={"Content-Type": "application/json", **_auth(config)},
            verify=tls_context(config.ca_file, config.verify_tls),
            timeout=config.timeout_seconds,
        )
        self.worker = DeliveryThread(self.name, self.deliver, tick=1.0)

    def emit(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        now = time.monotonic()
        with self.lock:
            for alert in alerts:
                body = to_alertmanager(alert, self.collector, self.generator_url)
                key = _fingerprint(body)
                old = self.active.pop(key, None)
                packets = self.activity(alert) if self.activity else alert.count
                entry = _Active(alert, body, packets, now, old.sent_at if old else None)
                self.active[key] = entry  # re-inserted: the dict's order is oldest-touched first
            while len(self.active) > self.config.max_alerts:
                self.active.pop(next(iter(self.active)))
                self.stats.outcomes[DROPPED] += 1
            self.stats.queued = len(self.active)
        self.worker.wake.set()

    def _due(self, now: float) -> list[_Active]:
        cfg = self.config
        due = []
        with self.lock:
            for entry in self.active.values():
                if self.activity is not None and entry.ends_at is None:
                    packets = self.activity(entry.alert)
                    if packets != entry.packets:
                        entry.packets, entry.last_active = packets, now
                        entry.body["annotations"]["packets"] = str(packets)
                    elif now - entry.last_active >= cfg.resolve_seconds:
                        entry.ends_at, entry.dirty = _now_rfc3339(), True
                resend = entry.sent_at is not None and now - entry.sent_at >= cfg.resend_seconds
                if entry.dirty or (self.activity is not None and resend):
                    due.append(entry)
        return due

    def deliver(self) -> None:
        """Push what is due: new and changed alerts, re-sends, resolutions."""
        now = time.monotonic()
        if now < self.retry_at:
            return
        due = self._due(now)
        if not due:
            return
        bodies = [dict(e.body, endsAt=e.ends_at) if e.ends_at else e.body for e in due]
        outcome = self._post(bodies)
        with self.lock:
            if outcome == FAILED:
                self.retry_at = now + self.backoff.next()
            else:
                self.backoff.reset()
                for entry in due:
                    entry.dirty, entry.sent_at = False, now
                    if entry.ends_at is not None or self.activity is None:
                        self.active.pop(_fingerprint(entry.body), None)
            self.stats.outcomes[outcome] += len(due)
            self.stats.queued = len(self.active)

    def _post(self, bodies: list[dict[str, Any]]) -> str:
        """DELIVERED when any Alertmanager took every chunk, DROPPED when they refused the content
        (4xx: sending it again cannot help), FAILED otherwise (retried)."""
        outcomes = set()
        for url in self.config.urls:
            try:
                for i in range(0, len(bodies), CHUNK):
                    data = json.dumps(bodies[i : i + CHUNK], separators=(",", ":")).encode()
                    answer = self.http.post(url + "/api/v2/alerts", content=data)
                    answer.raise_for_status()
            except httpx.HTTPStatusError as exc:
                code = exc.response.status_code
                self.bursts[url].failure(f"HTTP {code} {exc.response.text[:200]!r}")
                outcomes.add(DROPPED if 400 <= code < 500 and code != 429 else FAILED)
            except httpx.HTTPError as exc:
                self.bursts[url].failure(str(exc) or type(exc).__name__)
                outcomes.add(FAILED)
            else:
                self.bursts[url].success()
                outcomes.add(DELIVERED)
        for outcome in (DELIVERED, FAILED, DROPPED):
            if outcome in outcomes:
                return outcome
        return FAILED

    def close(self) -> None:
        """Stop the worker; first push what is still due (replay's alerts), within a few tries."""
        self.worker.stop()
        deadline = time.monotonic() + 3 * self.config.timeout_seconds
        while time.monotonic() < deadline and any(e.dirty for e in self.active.values()):
            self.retry_at = 0.0
            self.deliver()
        with self.lock:
            left = sum(e.dirty for e in self.active.values())
            self.stats.outcomes[DROPPED] += left
            self.active.clear()
            self.stats.queued = 0
        self.http.close()


def _now_rfc3339() -> str:
    return rfc3339(int(datetime.now(UTC).timestamp() * 1e9))


def _read_secret(path: str, what: str) -> str:
    from detector.errors import ConfigError

    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as exc:
        raise ConfigError(f"sinks.alertmanager.{what}: {path}: {exc.strerror}") from exc


def _auth(config: AlertmanagerConfig) -> dict[str, str]:
    if config.bearer_token_file:
        return {
            "Authorization": "Bearer " + _read_secret(config.bearer_token_file, "bearer_token_file")
        }
    if config.username:
        password = (
            _read_secret(config.password_file, "password_file") if config.password_file else ""
        )
        token = base64.b64encode(f"{config.username}:{password}".encode()).decode()
        return {"Authorization": "Basic " + token}
    return {}
