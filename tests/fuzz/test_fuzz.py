"""Hypothesis fuzzing: hostile bytes give counted errors, never an exception out of the loop."""

from __future__ import annotations

import contextlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.decoders import arp, dhcp, ethernet, geneve, gre, ip, ndp, udp, vxlan
from detector.decoders.chain import Decoder
from detector.errors import CaptureError, DecodeError
from detector.sources.capture import CaptureFile
from detector.values import RecordBatch
from tests.conftest import PCAPS

LINKTYPES = [0, 1, 101, 113, 228, 229, 276]
PARSERS = [
    ethernet.parse,
    ip.parse_ipv4,
    ip.parse_ipv6,
    udp.parse,
    geneve.parse,
    vxlan.parse,
    vxlan.parse_gpe,
    gre.parse,
    arp.parse,
    ndp.parse,
    dhcp.parse,
]


def sample_frames() -> list[bytes]:
    """Every frame of the bundled samples: mutation seeds that reach deep into the chain."""
    frames = []
    for path in sorted(PCAPS.glob("*.pcap")):
        for b in CaptureFile(str(path)).batches():
            frames.extend(b.buf[o : o + n] for o, n in zip(b.offsets, b.caplens, strict=True))
    return frames


SEEDS = sample_frames()


def run(data: bytes, linktype: int) -> Decoder:
    d = Decoder()
    batch = RecordBatch("fuzz", data, [0], [len(data)], [len(data)], [0], [linktype], 1)
    list(d.frames(batch))  # must not raise
    return d


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(LINKTYPES))
def test_random_bytes(data: bytes, linktype: int) -> None:
    run(data, linktype)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=6),
    st.integers(0, 2000),
)
def test_mutated_real_frames(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for pos, value in flips:
        if data:
            data[pos % len(data)] = value
    d = run(bytes(data[: max(cut, 14)]), 1)
    assert d.stats.packets == 1


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(PARSERS), st.binary(max_size=300), st.integers(0, 40))
def test_each_parser_raises_only_decode_error(parser, data: bytes, off: int) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(DecodeError):
        parser(data, min(off, len(data)), len(data))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 4000),
)
def test_mutated_capture_files(tmp_path: Path, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray((PCAPS / "geneve-ip-change.pcap").read_bytes())
    for pos, value in flips:
        data[pos % len(data)] = value
    p = tmp_path / "mutant.pcap"
    p.write_bytes(bytes(data[:cut]))
    with contextlib.suppress(CaptureError):
        for b in CaptureFile(str(p)).batches():
            list(Decoder().frames(b))
