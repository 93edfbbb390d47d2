"""Differential test: our inner-frame decode equals Wireshark's (tshark through pyshark)."""

from __future__ import annotations

import re
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.decoders.chain import Decoder
from detector.sources.capture import CaptureFile
from tests.conftest import PCAPS, REAL, needs_tshark, real_captures, real_id

Key = tuple[str, int | None, str | None, str | None]
TUNNEL_WORDS = re.compile(r"Geneve|VXLAN|ERSPAN|GRE proto 0x6558")

BIG_TCP = (
    "BIG TCP / GSO capture: the outer UDP length is 0 because the kernel captured a super-packet"
    " before segmentation. Wireshark calls the UDP header bogus and stops; we bound the payload by"
    " the capture length and decode the inner frame, which is what the VM sent."
)
# Where Wireshark and spoofwatch differ on purpose, file by file: (packets only we decode,
# packets only Wireshark decodes, why). The counts are exact, so a change in either shows.
EXPLAINED: dict[str, tuple[int, int, str]] = {
    **{
        f"tcpdump/bigtcp-ipv{a}-{t}-ipv{b}.pcap": (1, 0, BIG_TCP)
        for a in (4, 6)
        for t in ("geneve", "vxlan")
        for b in (4, 6)
    },
    "pcaps/geneve-malformed-between-good.pcap": (
        0,
        2,
        "our malformed sample: packet 2 is Geneve version 1 and packet 5 VXLAN with the I flag"
        " clear. Wireshark flags them and dissects on; RFC 8926 §3.4 (a packet of an unknown"
        " version must be dropped) and RFC 7348 §5 (I must be 1 for a valid VNI) make both"
        " counted errors for us: a VNI we cannot trust cannot name a segment.",
    ),
    "arkime/arkime_synthetic.pcap": (
        0,
        2,
        "packet 619 is UDP from port 4790 to 40000 and packet 623 from port 6081 to 12345."
        " Wireshark decodes a tunnel when either port is the tunnel's; RFC 8926 §3.3 and RFC 7348"
        " §5 put the tunnel on the destination port (the source port is flow entropy), so replies"
        " and stray packets from those ports are not tunnels to us.",
    ),
}
# Tunnel layers whose payload we count as an error or an unsupported payload.
OUR_TUNNEL_LAYERS = {"geneve", "vxlan", "erspan", "gre", "tunnel", "ethernet", "vlan"}


@pytest.fixture(autouse=True, scope="module")
def _sigchld_as_before() -> Iterator[None]:
    """pyshark installs asyncio's SIGCHLD handler, and a signal wakeup fd that outlives its
    event loop: once that fd number is reused by a later test's socket, every child that exits
    writes a byte into it. Put both back after this module."""
    yield
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)


def tunnel_captures() -> list[Path]:
    """Captures whose SOURCES.md row (written from tshark's dissection) names a tunnel."""
    listed: set[str] = set()
    sources = REAL / "SOURCES.md"
    if sources.is_file():
        for line in sources.read_text().splitlines():
            cells = line.split("|")
            if len(cells) > 8 and TUNNEL_WORDS.search(line):
                listed.add(cells[1].strip().strip("`"))
    return [p for p in real_captures() if real_id(p) in listed]


def ours(path: Path) -> tuple[Counter[Key], int]:
    """Our keys, and how many tunnel packets we counted as malformed or unsupported inside."""
    decoder = Decoder()
    keys: Counter[Key] = Counter()
    for batch in CaptureFile(str(path)).batches():
        for f in decoder.frames(batch):
            if f.encap is not None:
                keys[(f.encap, f.vni, f.src_mac, f.src_ip)] += 1
    stats = decoder.stats
    refused = sum(n for (layer, _), n in stats.errors.items() if layer in OUR_TUNNEL_LAYERS)
    refused += sum(n for (layer, r), n in stats.skipped.items() if r.startswith("unsupported"))
    return keys, refused


def theirs(path: Path, attempts: int = 3) -> Counter[Key]:
    """Wireshark's keys. Now and then tshark exits 255 on a file here (seen in
    two CI runs; the same file passed on rerun): a crashed read is incomplete, so it is
    read again, never compared; a crash on every attempt fails the test."""
    from pyshark.capture.capture import TSharkCrashException

    for attempt in range(attempts):
        try:
            return _tshark_keys(path)
        except TSharkCrashException:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _tshark_keys(path: Path) -> Counter[Key]:
    import pyshark

    keys: Counter[Key] = Counter()
    cap = pyshark.FileCapture(str(path), keep_packets=False, decode_as={"udp.port==8472": "vxlan"})
    try:
        for packet in cap:
            key = _innermost(packet.layers)
            if key is not None:
                keys[key] += 1
    finally:
        try:
            cap.close()
        finally:
            cap._running_processes.clear()  # else __del__ raises it again, in a later test
    return keys


def _innermost(layers: list) -> Key | None:  # type: ignore[type-arg]
    names = [layer.layer_name for layer in layers]
    at = None
    for i, name in enumerate(names):
        if name in ("geneve", "vxlan", "erspan") or (
            name == "gre" and i + 1 < len(names) and names[i + 1] == "eth"
        ):
            at = i
    if at is None:
        return None
    tunnel = layers[at]
    encap = tunnel.layer_name
    vni = int(tunnel.vni, 0) if encap in ("geneve", "vxlan") else None
    mac = ip = None
    rest = layers[at + 1 :]
    if rest and rest[0].layer_name == "eth":
        mac = rest[0].src
        rest = rest[1:]
    while rest and rest[0].layer_name == "vlan":
        rest = rest[1:]
    if rest and rest[0].layer_name in ("ip", "ipv6"):
        ip = rest[0].src
    return encap, vni, mac, ip


def tunnel_samples() -> list[Path]:
    """Our samples, but for the plain-SPAN one (it has no tunnel to compare)."""
    return sorted(p for p in PCAPS.glob("*.pcap") if not p.name.startswith("plain-"))


def capture_id(path: Path) -> str:
    return real_id(path) if path.is_relative_to(REAL) else f"pcaps/{path.name}"


@needs_tshark
@pytest.mark.parametrize("path", tunnel_captures() + tunnel_samples(), ids=capture_id)
def test_inner_frames_match_wireshark(path: Path) -> None:
    (mine, refused), wireshark = ours(path), theirs(path)
    only_ours, only_theirs = mine - wireshark, wireshark - mine
    # A tunnel whose payload Wireshark cannot show as a frame (no MAC, no IP: truncated, NSH,
    # ERSPAN frame types that are not frames) must be one we counted as an error or unsupported.
    empty = Counter({k: n for k, n in only_theirs.items() if k[2] is None and k[3] is None})
    only_theirs -= empty
    assert empty.total() <= refused, f"{path}: Wireshark saw {dict(empty)}; we counted {refused}"
    name = capture_id(path)
    n_ours, n_theirs, why = EXPLAINED.get(name, (0, 0, ""))
    assert (only_ours.total(), only_theirs.total()) == (n_ours, n_theirs), (
        f"{name}: only ours {dict(only_ours)}; only Wireshark's {dict(only_theirs)}. {why}"
    )
    assert mine.total() + refused > 0


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/pcaps-real is absent")
def test_tunnel_capture_list_is_not_empty() -> None:
    assert len(tunnel_captures()) >= 30
