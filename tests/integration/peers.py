"""Real receivers started by the tests on loopback: Debian's Alertmanager and rsyslog."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.daemon_util import wait_for

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
RSYSLOGD = shutil.which("rsyslogd") or (
    "/usr/sbin/rsyslogd" if Path("/usr/sbin/rsyslogd").exists() else None
)
GTLS = Path("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists()


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
