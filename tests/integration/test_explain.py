"""`spoofwatch explain`: the packet behind an alert, dissected by Wireshark."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PCAPS, needs_tshark


@needs_tshark
def test_explain_dissects_the_packet_behind_each_alert() -> None:
    alerts = subprocess.run(
        [sys.executable, "-m", "detector", "replay", "--quiet", "geneve-options-inner-vlan.pcap"],
        cwd=PCAPS,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = subprocess.run(
        [sys.executable, "-m", "detector", "explain", "-"],
        input=alerts,
        cwd=PCAPS,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "== unbound-source geneve:5003 00:50:56:a1:00:01 10.3.3.77" in out
    assert "Layer GENEVE:" in out and "Virtual Network Identifier (VNI): 0x00138b (5003)" in out
    assert "Layer VLAN:" in out and "ID: 100" in out
    assert "Source Address: 10.3.3.77" in out  # the inner, spoofed source


def test_explain_rejects_what_is_not_alerts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "x.jsonl"
    bad.write_text("not json\n")
    result = subprocess.run(
        [sys.executable, "-m", "detector", "explain", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "line 1: not JSON" in result.stderr and "Traceback" not in result.stderr
