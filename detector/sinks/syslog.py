"""Alerts as RFC 5424 syslog messages over UDP (RFC 5426), TCP with octet counting (RFC 6587 §3.4.1)
or TLS (RFC 5425): the alert as compact JSON in MSG, its key fields as structured data."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

from detector.config.sinks import FACILITIES, SyslogConfig
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
from detector.values import Alert, Severity

SEVERITY = {Severity.CRITICAL: 2, Severity.WARNING: 4, Severity.INFO: 6}
SD_KEYS = ("kind", "severity", "segment", "vni", "mac", "src_ip", "count")


def _sd_value(value: object) -> str:
    """RFC 5424 §6.3.3: escape `"`, `\\` and `]` inside a PARAM-VALUE."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_message(alert: Alert, config: SyslogConfig, hostname: str, now: datetime) -> bytes:
    """One alert as an RFC 5424 message (no trailing newline; the transport frames it)."""
    d = alert_to_dict(alert)
    pri = FACILITIES[config.facility] * 8 + SEVERITY[alert.severity]
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    params = " ".join(f'{k}="{_sd_value(d[k])}"' for k in SD_KEYS if d[k] is not None)
    msgid = d["kind"][:32]
    body = json.dumps(d, separators=(",", ":"))  # ASCII (MSG-ANY), so no BOM is needed
    host = (hostname or "-")[:255]
    header = f"<{pri}>1 {stamp} {host} {config.app_name[:48]} - {msgid}"
    return f"{header} [{config.sd_id} {params}] {body}".encode()


class SyslogSink:
    """A bounded queue of formatted messages, sent by a worker that reconnects with back-off."""

    def __init__(self, config: SyslogConfig, hostname: str) -> None:
        self.name = f"syslog-{config.protocol}"
        self.config = config
        self.hostname = hostname
        self.stats = SinkStats(self.name)
        self.queue: deque[bytes] = deque()
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.backoff = Backoff()
        self.retry_at = 0.0
        self.burst = Burst(f"syslog {config.protocol}://{config.address[0]}:{config.address[1]}")
        self.tls = None
        if config.protocol == "tls":
            c = config
            self.tls = tls_context(c.ca_file, c.verify_tls, c.client_cert, c.client_key)
        self.worker = DeliveryThread(self.name, self.deliver, tick=0.5)

    def emit(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        now = datetime.now(UTC)
        messages = [format_message(a, self.config, self.hostname, now) for a in alerts]
        with self.lock:
            self.queue.extend(messages)
            while len(self.queue) > self.config.max_queue:
                self.queue.popleft()
                self.stats.outcomes[DROPPED] += 1
            self.stats.queued = len(self.queue)
        self.worker.wake.set()

    def deliver(self) -> None:
        """Send the queue in order; on an error keep the message at the head and back off."""
        if time.monotonic() < self.retry_at:
            return
        while True:
            with self.lock:
                if not self.queue:
                    return
                message = self.queue[0]
            try:
                self._send(message)
            except (OSError, ValueError) as exc:
                self._disconnect()
                self.burst.failure(str(exc) or type(exc).__name__)
                self.stats.outcomes[FAILED] += 1
                self.retry_at = time.monotonic() + self.backoff.next()
                return
            self.burst.success()
            self.backoff.reset()
            with self.lock:
                if self.queue and self.queue[0] is message:
                    self.queue.popleft()
                self.stats.outcomes[DELIVERED] += 1
                self.stats.queued = len(self.queue)

    def _send(self, message: bytes) -> None:
        host, port = self.config.address
        if self.config.protocol == "udp":
            if self.sock is None:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sock.sendto(message, (host, port))
            return
        if self.sock is not None and _peer_closed(self.sock):
            self._disconnect()  # the server went away: reconnect before sending into the void
        if self.sock is None:
            sock = socket.create_connection((host, port), timeout=5)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.config.server_name or host)
            self.sock = sock
        self.sock.sendall(b"%d %s" % (len(message), message))

    def _disconnect(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError, ValueError):
                if isinstance(self.sock, ssl.SSLSocket):
                    self.sock.settimeout(1)
                    self.sock.unwrap()  # close_notify: a TLS server logs a cut session otherwise
                self.sock.close()
            self.sock = None

    def close(self) -> None:
        """Stop the worker after one last try to send what is queued; count what is left."""
        self.worker.stop()
        self.retry_at = 0.0
        self.deliver()
        self._disconnect()
        with self.lock:
            self.stats.outcomes[DROPPED] += len(self.queue)
            self.queue.clear()
            self.stats.queued = 0


def _peer_closed(sock: socket.socket) -> bool:
    """A syslog server never writes to us: a readable socket means it closed (or reset) it."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        if isinstance(sock, ssl.SSLSocket):  # TLS 1.3 servers also send session tickets
            sock.setblocking(False)
            try:
                return sock.recv(1) == b""  # b"": close_notify or EOF
            except ssl.SSLWantReadError:
                return False  # only handshake records: the session is alive
            finally:
                sock.settimeout(5)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
