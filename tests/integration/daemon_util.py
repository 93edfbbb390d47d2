"""Helpers for tests that run spoofwatch as a subprocess: commands, ports, waiting, feeding UDP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from detector.sources.capture import CaptureFile
from tests.conftest import PCAPS, ROOT


def spoofwatch(
    *args: str, cwd: Path = PCAPS, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "detector", *args],
        cwd=cwd,
        input=stdin.decode("latin-1") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        encoding="latin-1" if stdin is not None else None,
    )


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def start(config: Path, *extra: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "detector", "run", "--config", str(config), *extra],
        cwd=cwd or config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text: str, line_start: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


def tunnel_payloads(capture: str) -> list[bytes]:
    """The Geneve/VXLAN payloads (after outer Ethernet/IPv4/UDP) of a sample capture."""
    out = []
    for b in CaptureFile(str(ROOT / "pcaps" / capture)).batches():
        for off, n in zip(b.offsets.tolist(), b.caplens.tolist(), strict=True):
            out.append(bytes(b.buf[off + 42 : off + n]))
    return out


def send(payloads: list[bytes], port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in payloads:
            s.sendto(p, ("127.0.0.1", port))
            time.sleep(0.001)


def udp_config(tmp: Path, udp: int, metrics: int, extra: str = "") -> Path:
    cfg = tmp / "spoofwatch.toml"
    cfg.write_text(
        f"[decode]\ngeneve_ports = [{udp}]\nvxlan_ports = [4789, 8472]\n"
        f'[source]\nkind = "udp"\nlisten = "127.0.0.1:{udp}"\n'
        f'[metrics]\nlisten = "127.0.0.1:{metrics}"\n'
        f'[state]\npath = "state.db"\n[alerts]\npath = "alerts.jsonl"\n{extra}'
    )
    return cfg


def metrics_up(port: int) -> bool:
    """Is the metrics endpoint answering yet?"""
    try:
        scrape(port)
        return True
    except OSError:
        return False
