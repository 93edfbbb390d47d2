"""A real IPFIX exporter: softflowd reads a plain-SPAN capture and exports to spoofwatch."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from detector.config.decode import DecodeConfig
from detector.decoders.chain import Decoder
from detector.decoders.ipfix.decoder import Flow
from detector.sources.capture import CaptureFile
from detector.sources.udp import outer_header
from detector.values import DecodeStats
from tests.conftest import PCAPS, validate_alerts
from tests.integration.daemon_util import free_port, metrics_up, start, wait_for

pytestmark = pytest.mark.skipif(shutil.which("softflowd") is None, reason="no softflowd")
SAMPLE = PCAPS / "plain-span-ip-change.pcap"


def export(port: int) -> None:
    """softflowd exports every flow of the sample as IPFIX (-v 10) with MACs and VLAN."""
    subprocess.run(
        [
            "softflowd",
            "-r",
            str(SAMPLE),
            "-n",
            f"127.0.0.1:{port}",
            "-v",
            "10",
            "-T",
            "ether",
            "-d",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )


def collect(port: int) -> list[bytes]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))
        s.settimeout(5)
        export(port)
        out = []
        try:
            while True:
                out.append(s.recv(65535))
                s.settimeout(0.5)
        except TimeoutError:
            return out


def write_pcap(path: Path, payloads: list[bytes], port: int) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(payloads):
            header = outer_header("127.0.0.1", "127.0.0.1", port, len(p))
            assert header is not None
            frame = header + p
            f.write(struct.pack("<IIII", 1_767_225_600 + i, 0, len(frame), len(frame)) + frame)


def test_decoded_flows_match_tshark_dissection_of_the_same_messages(tmp_path: Path) -> None:
    payloads = collect(free_port(socket.SOCK_DGRAM))
    assert payloads, "softflowd sent nothing"
    pcap = tmp_path / "softflowd.pcap"
    write_pcap(pcap, payloads, 4739)
    flows: list[Flow] = []
    decoder = Decoder(DecodeConfig(), DecodeStats())
    decoder.on_flow = flows.append
    for batch in CaptureFile(str(pcap)).batches():
        list(decoder.frames(batch))
    ours = sorted(
        (
            f.values["sourceIPv4Address"],
            f.values["destinationIPv4Address"],
            f.values["sourceMacAddress"],
            f.values["packetDeltaCount"],
        )
        for f in flows
        if "sourceIPv4Address" in f.values
    )
    assert len(ours) == 4  # vm1→vm2 before and after the change, and vm2's replies
    if shutil.which("tshark"):
        out = subprocess.run(
            [
                "tshark",
                "-r",
                str(pcap),
                "-d",
                "udp.port==4739,cflow",
                "-T",
                "fields",
                "-E",
                "occurrence=a",
                "-E",
                "aggregator=|",
                "-e",
                "cflow.srcaddr",
                "-e",
                "cflow.dstaddr",
                "-e",
                "cflow.srcmac",
                "-e",
                "cflow.packets",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        theirs = []
        for line in out.splitlines():
            cols = [c.split("|") for c in line.split("\t")]
            if cols[0] != [""]:
                theirs += [(s, d, m, int(n)) for s, d, m, n in zip(*cols, strict=True)]
        assert sorted(theirs) == ours


def test_softflowd_to_spoofwatch_run_raises_unbound_source(tmp_path: Path) -> None:
    ipfix, http = free_port(socket.SOCK_DGRAM), free_port()
    bindings = tmp_path / "bindings.csv"
    bindings.write_text(
        "segment,mac,address\nvlan:10,00:50:56:a1:00:01,192.168.10.10\n"
        "vlan:10,00:50:56:a1:00:02,192.168.10.20\n"
    )
    cfg = tmp_path / "ipfix.toml"
    cfg.write_text(
        f'[decode]\nipfix_ports = [{ipfix}]\n[source]\nkind = "udp"\nlisten = "127.0.0.1:{ipfix}"\n'
        f'[metrics]\nlisten = "127.0.0.1:{http}"\n[bindings]\nfile = "{bindings}"\n'
        f'[alerts]\npath = "alerts.jsonl"\n'
    )
    proc = start(cfg)
    try:
        wait_for(lambda: metrics_up(http), what="spoofwatch run")
        export(ipfix)
        path = tmp_path / "alerts.jsonl"
        wait_for(lambda: path.exists() and path.read_text().count("\n") >= 1, what="an alert")
        lines = path.read_text().splitlines()
        validate_alerts(lines)
        alerts = [json.loads(line) for line in lines]
        assert [(a["kind"], a["mac"], a["src_ip"]) for a in alerts] == [
            ("unbound-source", "00:50:56:a1:00:01", "192.168.10.11")
        ]
        assert alerts[0]["evidence"]["file"].startswith("ipfix:127.0.0.1/")
        assert alerts[0]["bindings"][0]["method"] == "manual"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_learning_from_flows_when_asked(tmp_path: Path) -> None:
    payloads = collect(free_port(socket.SOCK_DGRAM))
    pcap = tmp_path / "softflowd.pcap"
    write_pcap(pcap, payloads, 4739)
    cfg = tmp_path / "learn.toml"
    cfg.write_text("[bindings]\nlearn_from_flows = true\n")
    out = subprocess.run(
        [sys.executable, "-m", "detector", "replay", "--quiet", "--config", str(cfg), str(pcap)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    validate_alerts(out.splitlines())
    kinds = [(a["kind"], a["src_ip"]) for a in map(json.loads, out.splitlines())]
    # one flow record both claims the new address (limit) and sends from it (unbound)
    assert sorted(kinds) == [
        ("binding-limit", "192.168.10.11"),
        ("unbound-source", "192.168.10.11"),
    ]
