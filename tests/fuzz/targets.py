"""Fuzz targets: every entry point that reads outside input, with the property it must keep.

Each target takes raw bytes. The only exceptions allowed out are the ones that carry an
operator's message (CaptureError, ConfigError, ReportError, ...); anything else is a bug. The
capture target is differential: the numba walker and batch path must agree with the Python
reader and the exact path on alerts and every counter. `make fuzz` drives these with atheris;
tests/fuzz/test_targets.py runs each on its seeds in `make test`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

from detector.errors import CaptureError, ConfigError, DecodeError, ReportError
from tests.fuzz import batch_targets, nsx_targets

SCRATCH = Path(os.environ.get("SPOOFWATCH_FUZZ_SCRATCH", tempfile.gettempdir()))


@contextlib.contextmanager
def as_file(data: bytes, suffix: str) -> Iterator[str]:
    """The input as a file (the readers take paths, as users give them)."""
    fd, path = tempfile.mkstemp(suffix=suffix, dir=SCRATCH)
    try:
        os.write(fd, data)
        os.close(fd)
        yield path
    finally:
        os.unlink(path)


def _replay(path: str, fast: bool) -> tuple[object, ...]:
    from detector.config.settings import Config
    from detector.fast.packets import path as packets
    from detector.runners.pipeline import Pipeline
    from detector.sinks.jsonl import dumps
    from detector.sources import pcap
    from tests.conftest import MemorySink

    saved = packets.MIN_BATCH, pcap.FAST_WALK_BYTES
    packets.MIN_BATCH, pcap.FAST_WALK_BYTES = (1, 0) if fast else (1 << 30, 1 << 62)
    try:
        sink = MemorySink()
        pipeline = Pipeline(Config(), sink)
        pipeline.batches.enabled = fast
        report = pipeline.replay([path])
    finally:
        packets.MIN_BATCH, pcap.FAST_WALK_BYTES = saved
    s = pipeline.stats
    counts = (s.packets, s.bytes, s.cut, dict(s.frames), dict(s.errors), dict(s.skipped))
    engine = (dict(pipeline.engine.stats.frames), dict(pipeline.engine.stats.findings))
    return [dumps(a) for a in sink.alerts], counts, engine, report.failures


def capture(data: bytes) -> None:
    """pcap / pcapng / IPFIX message files: the batch path (numba walker and kernels) and the
    exact path (Python reader, per-frame decoder) give the same alerts and counters."""
    with as_file(data, ".pcap") as path:
        fast, exact = _replay(path, fast=True), _replay(path, fast=False)
    if fast != exact:
        raise AssertionError(f"batch and exact paths disagree:\n{fast}\n{exact}")


def _records(path: str, compiled: bool) -> tuple[object, ...]:
    from detector.sources import pcap
    from detector.sources.capture import CaptureFile

    saved = pcap.FAST_WALK_BYTES
    pcap.FAST_WALK_BYTES = 0 if compiled else 1 << 62
    # the compiled walk reads in chunks of 1 KiB: records cross chunks, columns fill up
    capture = CaptureFile(path, chunk_bytes=1024) if compiled else CaptureFile(path)
    rows: list[tuple[object, ...]] = []
    error = None
    try:
        for b in capture.batches():
            rows.extend(
                (b.first_number + i, bytes(b.buf[o : o + c]), c, orig, ts, link)
                for i, (o, c, orig, ts, link) in enumerate(
                    zip(
                        b.offsets.tolist(),
                        b.caplens.tolist(),
                        b.origlens.tolist(),
                        b.ts_ns.tolist(),
                        b.linktypes.tolist(),
                        strict=True,
                    )
                )
            )
    except CaptureError as exc:
        error = str(exc)
    finally:
        pcap.FAST_WALK_BYTES = saved
    info = capture.info
    return rows, error, info.records, info.truncated, info.warnings


def reader(data: bytes) -> None:
    """The capture readers alone, many times faster than `capture`: the compiled record walk,
    fed 1 KiB chunks, gives the same records, error and notes as the Python walk."""
    with as_file(data, ".pcap") as path:
        fast, exact = _records(path, compiled=True), _records(path, compiled=False)
    if fast != exact:
        raise AssertionError(f"the compiled and Python walks disagree:\n{fast}\n{exact}")


def frame(data: bytes) -> None:
    """One record through the decode chain, for each link type it may claim to be."""
    from detector.decoders.chain import Decoder
    from detector.values import RecordBatch

    linktype = data[0] if data else 1
    body = data[1:]
    decoder = Decoder()
    batch = RecordBatch("fuzz", body, [0], [len(body)], [len(body)], [0], [linktype], 1)
    list(decoder.frames(batch))


def ipfix(data: bytes) -> None:
    """IPFIX / NetFlow v9 messages, templates carried from one message to the next."""
    from detector.decoders.ipfix.decoder import IpfixDecoder

    decoder = IpfixDecoder()
    for message in data.split(b"\xff\xfe\xfd"):
        with contextlib.suppress(DecodeError):
            decoder.feed(message, "192.0.2.1")


def config(data: bytes) -> None:
    """A TOML configuration."""
    from detector.config import settings as config_mod

    try:
        doc = tomllib.loads(data.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError:
        return
    with contextlib.suppress(ConfigError):
        config_mod.parse(doc)


def bindings_csv(data: bytes) -> None:
    """A manual bindings CSV."""
    from detector.bindings import manual

    with as_file(data, ".csv") as path, contextlib.suppress(ConfigError):
        manual.load(path)


def alerts(data: bytes) -> None:
    """An alerts file for `report`: both readers agree whenever the fast one accepts it."""
    from detector.report import load

    with as_file(data, ".jsonl") as path:
        fast = load._alerts_arrow(path)
        try:
            slow = load._alerts_python(path, progress=False)
        except ReportError:
            slow = None
    if fast is not None and (slow is None or not fast.equals(slow)):
        raise AssertionError(f"the alert readers disagree:\n{fast}\n{slow}")


def timeline(data: bytes) -> None:
    """A timeline file for `report`."""
    from detector.report import load

    with as_file(data, ".parquet") as path, contextlib.suppress(ReportError):
        load.timeline(path)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "capture": capture,
    "reader": reader,
    "frame": frame,
    "columns": batch_targets.columns,
    "ipfix": ipfix,
    "config": config,
    "bindings_csv": bindings_csv,
    "nsx_snapshot": nsx_targets.nsx_snapshot,
    "nsx_api": nsx_targets.nsx_api,
    "alerts": alerts,
    "timeline": timeline,
}
ALLOWED = (CaptureError,)  # a capture that cannot be read is reported, not a crash


def seeds(name: str) -> list[bytes]:
    """The corpus each target starts from: samples, real captures, golden cases."""
    from tests.conftest import GOLDEN, PCAPS, ROOT, real_captures

    pick: dict[str, list[Path]] = {
        "capture": sorted(PCAPS.glob("*.pcap")) + real_captures()[:40],
        "reader": sorted(PCAPS.glob("*.pcap")) + real_captures()[:40],
        "frame": [],
        "columns": [],
        "ipfix": sorted((ROOT / "tests").rglob("*.ipfix")),
        "config": sorted((ROOT / "pipelines").glob("*.toml")) + sorted(GOLDEN.rglob("*.toml")),
        "bindings_csv": sorted(GOLDEN.rglob("*.csv")),
        "nsx_snapshot": sorted((ROOT / "tests").rglob("*snapshot*.json")),
        "nsx_api": [],
        "alerts": sorted(GOLDEN.rglob("expected.jsonl")),
        "timeline": [],
    }
    out = [p.read_bytes() for p in pick[name] if p.stat().st_size < 4 << 20]
    if name == "frame":
        out = [bytes([1]) + f for f in _sample_frames()]
    elif name == "columns":
        out = batch_targets.seeds()
    elif name == "ipfix":
        from tests.unit.decoders.ipfix.test_decoder import TEMPLATE, ipfix_set, message, record

        data = ipfix_set(256, record() + record("10.0.0.2"))
        out = [message(ipfix_set(2, TEMPLATE)) + b"\xff\xfe\xfd" + message(data, seq=1)]
    elif name == "nsx_snapshot":
        out = [json.dumps(SNAPSHOT).encode(), *nsx_targets.seeds_snapshot()]
    elif name == "nsx_api":
        out = nsx_targets.seeds_api()
    elif name == "timeline":
        out = [_sample_timeline()]
    return out or [b""]


def _sample_timeline() -> bytes:
    """A real timeline: the incident sample replayed with --timeline, as Parquet bytes."""
    import tempfile

    from detector.config.settings import Config
    from detector.fast.timeline.path import Timeline
    from detector.runners.pipeline import Pipeline
    from detector.sinks.timeline_files import TimelineWriter
    from tests.conftest import PCAPS, MemorySink

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "timeline.parquet"
        writer = TimelineWriter(str(path), 1.0)
        pipeline = Pipeline(Config(), MemorySink(), timeline=Timeline(writer.write, 1.0))
        report = pipeline.replay([str(PCAPS / "geneve-incident.pcap")])
        writer.close(pipeline.timeline_meta(report.captures))
        return path.read_bytes()


SNAPSHOT = {
    "format": "spoofwatch-nsx-snapshot",
    "version": 1,
    "manager": "https://nsx.example",
    "pulled_at": "2026-01-01T00:00:00Z",
    "segments": [
        {
            "path": "/infra/segments/web",
            "overlay_id": 5001,
            "ports": [
                {
                    "path": "/infra/segments/web/ports/p1",
                    "attachment": {"id": "vif-1"},
                    "address_bindings": [
                        {"ip_address": "10.1.1.0/28", "mac_address": "00-50-56-A1-00-01"}
                    ],
                    "state": {
                        "realized_bindings": [
                            {
                                "binding": {
                                    "ip_address": "10.1.1.10",
                                    "mac_address": "00:50:56:a1:00:01",
                                    "vlan": 0,
                                },
                                "source": "ARP_SNOOPING",
                                "binding_timestamp": 1767225600000,
                            }
                        ]
                    },
                }
            ],
        }
    ],
    "spoofguard_profiles": [],
    "ip_discovery_profiles": [],
    "groups": [],
    "policies": [],
}


def _sample_frames() -> list[bytes]:
    from detector.sources.capture import CaptureFile
    from tests.conftest import PCAPS

    frames = []
    for path in sorted(PCAPS.glob("*.pcap")):
        for b in CaptureFile(str(path)).batches():
            frames.extend(
                bytes(b.buf[o : o + n]) for o, n in zip(b.offsets, b.caplens, strict=True)
            )
    return frames
