"""`spoofwatch` as a user runs it: a subprocess, real files, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import GOLDEN, PCAPS, ROOT, validate_alerts
from tests.integration.daemon_util import spoofwatch

CASES = sorted(p.parent for p in GOLDEN.glob("*/case.toml"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_replay_subprocess_matches_golden(case: Path) -> None:
    spec = tomllib.loads((case / "case.toml").read_text())
    args = ["replay", *spec["captures"]]
    if "config" in spec:
        args += ["--config", str(case / spec["config"])]
    if "bindings" in spec:
        args += ["--bindings", str(case / spec["bindings"])]
    result = spoofwatch(*args)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    validate_alerts(lines)
    assert lines == (case / "expected.jsonl").read_text().splitlines()
    assert "packets/s" in result.stderr and "alerts by kind" in result.stderr


def test_replay_twice_is_byte_identical() -> None:
    first = spoofwatch("replay", "--quiet", "geneve-impersonation.pcap").stdout
    assert first and first == spoofwatch("replay", "--quiet", "geneve-impersonation.pcap").stdout


def test_replay_from_stdin_and_gzip(tmp_path: Path) -> None:
    import gzip

    raw = (PCAPS / "geneve-ip-change.pcap").read_bytes()
    gz = tmp_path / "seed.pcap.gz"
    gz.write_bytes(gzip.compress(raw))
    from_gz = spoofwatch("replay", "--quiet", str(gz)).stdout
    from_stdin = subprocess.run(
        [sys.executable, "-m", "detector", "replay", "--quiet", "-"],
        input=raw,
        capture_output=True,
        timeout=60,
        cwd=PCAPS,
    ).stdout.decode()
    kinds = [json.loads(line)["kind"] for line in from_stdin.splitlines()]
    assert kinds == ["binding-limit", "unbound-source"]
    assert [json.loads(line)["kind"] for line in from_gz.splitlines()] == kinds


def test_alerts_to_file_and_text_format(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    assert spoofwatch("replay", "geneve-ip-change.pcap", "--alerts", str(out)).returncode == 0
    assert len(out.read_text().splitlines()) == 2
    text = spoofwatch("replay", "--quiet", "--format", "text", "geneve-ip-change.pcap").stdout
    assert "[CRITICAL] unbound-source  geneve:5001  00:50:56:a1:00:01  src 10.1.1.11" in text
    assert "bound: 10.1.1.10 learned by arp" in text


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["replay", "missing.pcap"], 1, "missing.pcap: cannot open"),
        (["replay", "README.md"], 1, "not a pcap, pcapng or IPFIX message file"),
        (["replay", "geneve-ip-change.pcap", "--config", "nope.toml"], 2, "config nope.toml"),
        (
            ["replay", "geneve-ip-change.pcap", "--alerts", "/nonexistent/dir/a.jsonl"],
            1,
            "alerts file /nonexistent/dir/a.jsonl",
        ),
        (["check-config", "make_pcaps.py"], 2, "config make_pcaps.py"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(args: list[str], code: int, message: str) -> None:
    result = spoofwatch(*args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1


def test_a_bad_capture_does_not_stop_the_good_ones() -> None:
    result = spoofwatch("replay", "--quiet", "missing.pcap", "geneve-ip-change.pcap")
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 2


def test_bad_config_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[bindings]\narp_binding_limit = 0\n")
    result = spoofwatch("check-config", str(cfg))
    assert result.returncode == 2
    assert "bindings.arp_binding_limit: expected an integer from 1 to 256, got 0" in result.stderr


def test_shipped_pipeline_config_is_valid() -> None:
    result = spoofwatch("check-config", str(ROOT / "pipelines" / "replay.toml"))
    assert result.returncode == 0, result.stderr


def test_decode_jsonl_and_csv() -> None:
    result = spoofwatch("decode", "geneve-options-inner-vlan.pcap")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["packet"] for r in rows] == [1, 2, 3]
    first = rows[0]
    assert (first["encap"], first["vni"], first["src_mac"], first["vlan"]) == (
        "geneve",
        5003,
        "00:50:56:a1:00:01",
        [100],
    )
    assert first["geneve_options"] == [{"class": 0x0104, "type": 1, "data": "0000002a"}]
    assert "decode errors: none" in result.stderr
    csv_out = spoofwatch("decode", "--format", "csv", "vxlan-ip-change.pcap").stdout.splitlines()
    assert csv_out[0].startswith("file,packet,time,encap,vni")
    assert len(csv_out) == 7


def test_decode_summary_counts_errors() -> None:
    result = spoofwatch("decode", "geneve-malformed-between-good.pcap")
    assert "geneve/bad-version 1" in result.stderr and "vxlan/i-flag-unset 1" in result.stderr


def test_help_teaches() -> None:
    result = spoofwatch("--help")
    assert result.returncode == 0
    for word in ("replay", "decode", "check-config", "examples:", "exit status"):
        assert word in result.stdout


def test_stdin_that_is_a_terminal_is_refused_not_waited_on() -> None:
    import os
    import pty

    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "detector", "replay", "-"],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=30,
            cwd=PCAPS,
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert result.returncode == 1
    assert "standard input is a terminal; pipe a capture into it" in result.stderr


def test_debug_log_shows_the_first_bytes_of_a_malformed_packet() -> None:
    result = spoofwatch("--log-level", "debug", "decode", "geneve-malformed-between-good.pcap")
    lines = [line for line in result.stderr.splitlines() if "first bytes" in line]
    assert len(lines) == 5  # every one of the five malformed packets
    assert "packet 2: geneve: bad-version; first bytes 525400100002" in lines[0]


def _rewrite(src: Path, dst: Path, linktype: int | None = None, snap: int | None = None) -> None:
    """A copy of a classic pcap with another link type, or every record cut to `snap` bytes."""
    import struct

    data = src.read_bytes()
    header = bytearray(data[:24])
    if linktype is not None:
        struct.pack_into("<I", header, 20, linktype)
    out, pos = [bytes(header)], 24
    while pos + 16 <= len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, pos)
        body = data[pos + 16 : pos + 16 + incl]
        if snap is not None:
            body = body[:snap]
        out.append(struct.pack("<IIII", sec, usec, len(body), orig) + body)
        pos += 16 + incl
    dst.write_bytes(b"".join(out))


def test_a_link_type_spoofwatch_does_not_read_is_not_silent(tmp_path: Path) -> None:
    odd = tmp_path / "lt65535.pcap"
    _rewrite(PCAPS / "geneve-ip-change.pcap", odd, linktype=65535)
    result = spoofwatch("replay", str(odd))
    assert result.returncode == 0  # the capture was read
    assert "packets not decoded: link/linktype-65535 19" in result.stderr
    warning = result.stderr.strip().splitlines()[-1]
    assert warning.startswith("spoofwatch: warning: no packet could be inspected")
    assert "linktype-65535" in warning and "Ethernet" in warning


def test_an_underlay_only_capture_says_why_nothing_was_checked() -> None:
    result = spoofwatch("replay", "plain-span-ip-change.pcap")
    assert result.returncode == 0 and result.stdout == ""
    warning = result.stderr.strip().splitlines()[-1]
    assert "no packet could be inspected" in warning and "untunnelled" in warning


def test_packets_cut_by_the_snap_length_are_counted(tmp_path: Path) -> None:
    cut = tmp_path / "snap.pcap"
    _rewrite(PCAPS / "geneve-ip-change.pcap", cut, snap=80)  # every record is longer
    result = spoofwatch("replay", str(cut))
    assert result.returncode == 0
    assert "19 packets cut short by the capture's snap length" in result.stderr
