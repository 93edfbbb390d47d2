"""Live-capture test helpers: commands, a `spoofwatch run` watcher, a veth pair in a namespace."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.conftest import validate_alerts
from tests.integration.daemon_util import free_port, wait_for

TAG = f"{os.getpid() % 10000}"


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def alerts(path: Path) -> list[dict]:  # type: ignore[type-arg]
    lines = path.read_text().splitlines() if path.exists() else []
    validate_alerts(lines)
    return [json.loads(line) for line in lines]


class Watcher:
    """`spoofwatch run` capturing on an interface, optionally inside a namespace."""

    def __init__(
        self,
        tmp: Path,
        interface: str,
        netns: str | None = None,
        extra: str = "",
        source: str = "",
    ) -> None:
        self.http = free_port()
        self.alerts = tmp / "alerts.jsonl"
        cfg = tmp / "live.toml"
        cfg.write_text(
            f'[source]\nkind = "live"\ninterface = "{interface}"\npromiscuous = true\n{source}'
            f'[metrics]\nlisten = "127.0.0.1:{self.http}"\n'
            f'[alerts]\npath = "{self.alerts}"\n[logging]\nlevel = "info"\n{extra}'
        )
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "detector", "run", "--config", str(cfg)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(
            lambda: any("watching" in line for line in self.log),
            timeout=20,
            what=f"spoofwatch to capture on {interface}; log: {self.log}",
        )

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.append(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=10) == 0, self.log
