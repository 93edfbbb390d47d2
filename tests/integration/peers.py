"""Real receivers started by the tests on loopback: Debian's Alertmanager and rsyslog."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.daemon_util import wait_for

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
RSYSLOGD = shutil.which("rsyslogd", path="/usr/sbin:/usr/bin:/sbin")
GTLS = bool(list(Path("/usr/lib").glob("*/rsyslog/lmnsd_gtls.so")))  # rsyslog-gnutls


def start_alertmanager(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    """Alertmanager on 127.0.0.1:port with a null receiver, no clustering, its own storage."""
    assert ALERTMANAGER is not None
    config = tmp / "alertmanager.yml"
    config.write_text(
        'route: {receiver: "null", group_wait: 0s, group_interval: 1s, repeat_interval: 1h}\n'
        'receivers: [{name: "null"}]\n'
    )
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp / f'am-data-{port}'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port on 0.0.0.0
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _ready(port), timeout=20, what="Alertmanager to be ready")
    return proc


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def am_alerts(port: int, **filters: str) -> list[dict[str, Any]]:
    """GET /api/v2/alerts (active, not resolved), with query filters such as silenced="false"."""
    query = "?" + urllib.parse.urlencode(filters) if filters else ""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/v2/alerts{query}", timeout=5
        ) as r:
            return list(json.loads(r.read()))
    except OSError:
        return []


def am_silence(port: int, name: str, value: str) -> str:
    """Silence alerts whose label `name` equals `value` for an hour; returns the silence ID."""
    body = {
        "matchers": [{"name": name, "value": value, "isRegex": False, "isEqual": True}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "spoofwatch tests",
        "comment": "maintenance on this VM",
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v2/silences",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        return str(json.loads(r.read())["silenceID"])


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


RSYSLOG_CONF = """\
global(workDirectory="{tmp}/rsyslog-work" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{tmp}/ca.pem"
       defaultNetstreamDriverCertFile="{tmp}/server.pem"
       defaultNetstreamDriverKeyFile="{tmp}/server.key")
module(load="imudp")
module(load="imtcp")
template(name="fields" type="list") {{
  property(name="pri") constant(value="\\t") property(name="hostname") constant(value="\\t")
  property(name="app-name") constant(value="\\t") property(name="msgid") constant(value="\\t")
  property(name="structured-data") constant(value="\\t") property(name="msg")
  constant(value="\\n")
}}
ruleset(name="udp") {{ action(type="omfile" file="{tmp}/udp.log" template="fields") }}
ruleset(name="tcp") {{ action(type="omfile" file="{tmp}/tcp.log" template="fields") }}
ruleset(name="tls") {{ action(type="omfile" file="{tmp}/tls.log" template="fields") }}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="tls" streamDriver.name="gtls"
      streamDriver.mode="1" streamDriver.authMode="anon")
"""


def start_rsyslog(tmp: Path, ports: dict[str, int]) -> subprocess.Popen[bytes]:
    """rsyslogd in the foreground with its own config: UDP, TCP and TLS inputs on loopback, each
    written to <protocol>.log as tab-separated PRI, HOSTNAME, APP-NAME, MSGID, SD and MSG.
    The TLS input needs ca.pem, server.pem and server.key in `tmp` (make_ca)."""
    assert RSYSLOGD is not None
    (tmp / "rsyslog-work").mkdir(exist_ok=True)
    conf = tmp / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(tmp=tmp, **ports))
    proc = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(conf), "-i", str(tmp / "rsyslog.pid")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _listening(ports["tcp"]), timeout=20, what="rsyslog to listen")
    return proc


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def received(tmp: Path, protocol: str) -> list[list[str]]:
    """The messages rsyslog wrote for one input, split into their six fields."""
    path = tmp / f"{protocol}.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [line.split("\t", 5) for line in lines]
