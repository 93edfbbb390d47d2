"""The network sinks' contract, against a local HTTP receiver and a UDP socket: re-sending,
resolution, bounded queues, refused content, RFC 5424 framing and escaping, and config errors."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from detector.config.settings import parse
from detector.config.sinks import AlertmanagerConfig, SyslogConfig
from detector.errors import ConfigError
from detector.sinks.alertmanager import AlertmanagerSink, alertname
from detector.sinks.syslog import SyslogSink, format_message
from detector.values import Alert, AlertKind, Evidence, PortKey, Severity


def alert(mac: str = "00:50:56:a1:00:01", src: str = "10.1.1.11", message: str = "m") -> Alert:
    return Alert(
        AlertKind.UNBOUND_SOURCE, Severity.CRITICAL, PortKey("geneve:5001", mac), 5001, src,
        Evidence("x.pcap", 3, 10**18), 1, (), None, message, 10**18,
    )  # fmt: skip


class Receiver(BaseHTTPRequestHandler):
    posts: list[list[dict[str, Any]]]
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.posts.append(json.loads(body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("R", (Receiver,), {"posts": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()


def wait(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_alertnames_are_camel_case_kinds() -> None:
    assert alertname("unbound-source") == "SpoofwatchUnboundSource"
    assert alertname("table-full") == "SpoofwatchTableFull"


def test_active_alerts_are_resent_and_resolved_once_quiet(receiver: Any) -> None:
    url, handler = receiver
    packets = {"n": 1}
    cfg = AlertmanagerConfig((url,), resend_seconds=1, resolve_seconds=3)
    sink = AlertmanagerSink(cfg, "c1", "http://c1:9750/metrics", lambda a: packets["n"])
    sink.emit([alert()])
    for n in range(2, 5):  # the source keeps sending: re-sent without endsAt, count updated
        packets["n"] = n
        wait(lambda n=n: any(p[0]["annotations"]["packets"] == str(n) for p in handler.posts))
    assert all("endsAt" not in p[0] for p in handler.posts)
    wait(lambda: "endsAt" in handler.posts[-1][0])  # quiet for resolve_seconds: resolved
    wait(lambda: sink.stats.queued == 0)  # counted once the post has returned
    sink.close()
    assert sink.stats.outcomes["dropped"] == 0


def test_the_queue_is_bounded_and_refused_content_is_dropped(receiver: Any) -> None:
    url, handler = receiver
    handler.status = 400
    sink = AlertmanagerSink(AlertmanagerConfig((url,), max_alerts=3), "c1", "")
    sink.emit([alert(src=f"10.1.1.{i}") for i in range(5)])  # two over the bound
    wait(lambda: sink.stats.outcomes["dropped"] == 5)  # 2 for the bound, 3 refused (HTTP 400)
    assert len(handler.posts) == 1 and len(handler.posts[0]) == 3
    sink.close()


def test_replay_pushes_once_and_close_delivers_what_is_left(receiver: Any) -> None:
    url, handler = receiver
    sink = AlertmanagerSink(AlertmanagerConfig((url,)), "c1", "")
    sink.emit([alert(src=f"10.1.1.{i}") for i in range(3)])
    sink.close()
    assert sum(len(p) for p in handler.posts) == 3 and sink.stats.outcomes["delivered"] == 3


def test_syslog_escapes_structured_data_and_frames_udp() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    msg = format_message(
        alert(message='a "quoted" ] \\ message'), SyslogConfig(("h", 1)), "h1", now
    )
    text = msg.decode()
    assert text.startswith("<130>1 2026-01-01T00:00:00.000000Z h1 spoofwatch - unbound-source ")
    assert json.loads(text.split("] ", 1)[1])["message"] == 'a "quoted" ] \\ message'
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(5)
        sink = SyslogSink(SyslogConfig(rx.getsockname()), "h1")
        sink.emit([alert()])
        datagram = rx.recv(65536)
        sink.close()
    assert datagram.startswith(b"<130>1 ") and b'src_ip="10.1.1.11"' in datagram


def test_syslog_queue_is_bounded_while_the_server_is_away() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    sink = SyslogSink(SyslogConfig(("127.0.0.1", port), "tcp", max_queue=2), "h1")
    sink.emit([alert(src=f"10.1.1.{i}") for i in range(5)])
    assert sink.stats.outcomes["dropped"] == 3 and sink.stats.queued <= 2
    sink.close()
    assert sink.stats.outcomes["dropped"] == 5 and sink.stats.outcomes["delivered"] == 0


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"sinks": {"alertmanager": {}}}, "sinks.alertmanager.urls: required"),
        ({"sinks": {"alertmanager": {"urls": ["am:9093"]}}}, "expected http(s)://host:port"),
        ({"sinks": {"alertmanager": {"urls": ["http://u:p@am"]}}}, "never in the URL"),
        ({"sinks": {"alertmanager": {"urls": ["http://a"], "resend_seconds": 5}}}, "30 to 180"),
        ({"sinks": {"pager": {}}}, "unknown sink [sinks.pager]"),
        ({"sinks": {"syslog": {"address": "h:514", "protocol": "quic"}}}, "udp, tcp, tls"),
        ({"sinks": {"syslog": {"address": "h:514", "sd_id": "a b"}}}, "sinks.syslog.sd_id"),
        ({"sinks": {"syslog": {"address": "h:514", "client_cert": "c"}}}, "go together"),
        ({"alerts": {"format": "xml"}}, "jsonl, ecs, text"),
    ],
)
def test_sink_config_errors_name_the_key(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
    ):
        parse(doc)
