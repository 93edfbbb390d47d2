"""Behaviour windows: the kernel's counts equal a plain-Python count of the exact decoder's frames,
on the batch path and the exact path alike; late frames and floods stay bounded and counted."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from detector.config.settings import load_or_default
from detector.decoders.chain import Decoder
from detector.detectors.engine import Engine
from detector.fast.packets import path as packets
from detector.fast.windows.path import Windows
from detector.runners.pipeline import Pipeline
from detector.sources.capture import CaptureFile
from detector.values import WINDOW_COUNTS, Frame, PortKey, WindowRows, is_unicast
from tests.conftest import PCAPS

BEHAVIOUR = PCAPS / "behaviour"
WINDOW_NS = 10 * 10**9
Key = tuple[str, str, int]


class _Null:
    def emit(self, alerts: Any) -> None:
        pass

    def close(self) -> None:
        pass


def counted(capture: str, min_batch: int, monkeypatch: pytest.MonkeyPatch) -> dict[Key, tuple]:
    """(segment, MAC, window start) -> counts, through the pipeline and Windows."""
    monkeypatch.setattr(packets, "MIN_BATCH", min_batch)
    out: dict[Key, tuple] = {}

    def take(rows: WindowRows) -> list[Any]:
        for i in range(len(rows)):
            mac = int(rows.mac[i]).to_bytes(6, "big").hex(":")
            key = (rows.segment[i], mac, int(rows.start_ns[i]))
            assert key not in out, f"two rows for {key}"
            out[key] = tuple(rows.counts[i].tolist())
        return []

    windows = Windows(take, 10.0)
    Pipeline(load_or_default(None), _Null(), windows=windows).replay([str(BEHAVIOUR / capture)])
    return out


def reference(capture: str) -> dict[Key, tuple]:
    """The same counts from the exact decoder's frames, with Python sets."""
    cfg = load_or_default(None)
    decoder = Decoder(cfg.decode)
    engine = Engine(Pipeline(cfg, _Null()).table, cfg.trust, cfg.engine)
    sums: dict[Key, list[int]] = defaultdict(lambda: [0] * 7)
    sets: dict[Key, list[set[Any]]] = defaultdict(lambda: [set() for _ in range(4)])
    for batch in CaptureFile(str(BEHAVIOUR / capture)).batches():
        for i in range(len(batch)):
            frame = decoder.decode_one(batch, i)
            if frame is None:
                continue
            engine.process(frame, batch.source)
            port = engine.last_port
            if port is not None:
                _count(frame, port, int(batch.origlens[i]), sums, sets)
    new_peers = 0  # no peers are known: every distinct destination is a new one
    out = {}
    for key, s in sums.items():
        dst, ports, targets, clients = (len(x) for x in sets[key])
        new_peers = dst
        out[key] = (*s, dst, ports, targets, clients, new_peers)
    return out


def _count(frame: Frame, port: PortKey, nbytes: int, sums: Any, sets: Any) -> None:
    key = (port.segment, port.mac, frame.ts_ns // WINDOW_NS * WINDOW_NS)
    s, d = sums[key], sets[key]
    s[0] += 1
    s[1] += nbytes
    s[2] += frame.ip_proto == 6 and frame.tcp_flags & 0x12 == 0x02
    s[3] += frame.arp is not None and frame.arp.op == 1
    s[4] += frame.nd is not None
    s[5] += frame.dhcp is not None
    s[6] += frame.dst_mac is not None and not is_unicast(frame.dst_mac)
    if frame.arp is not None:
        d[2].add(frame.arp.target_ip)
        return
    if frame.dst_ip is not None:
        d[0].add(frame.dst_ip)
    if frame.ip_proto in (6, 17) and frame.dst_port is not None:
        d[1].add((frame.ip_proto, frame.dst_port))
    if frame.dhcp is not None and frame.dhcp.op == 1:
        d[3].add(frame.dhcp.chaddr)


@pytest.mark.parametrize(
    "capture",
    ["attack-dhcp-starvation.pcap.gz", "attack-port-scan.pcap.gz", "benign-vmotion.pcap.gz"],
)
def test_batch_and_exact_paths_count_what_python_counts(
    capture: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = reference(capture)
    assert len(want) > 150
    assert counted(capture, 10**9, monkeypatch) == want  # every frame on the exact path
    assert counted(capture, 256, monkeypatch) == want  # the batch path's columns


def test_the_counts_name_what_they_count() -> None:
    assert WINDOW_COUNTS[:3] == ("packets", "bytes", "syn")
    assert len(WINDOW_COUNTS) == 12


def _keys(n: int, mac: int = 0x005056000001) -> np.ndarray:
    keys = np.zeros((9, n), np.uint64)
    keys[0], keys[1], keys[2], keys[8] = 1, 5001, mac, 1
    return keys


def test_a_late_frame_counts_in_the_oldest_open_window() -> None:
    rows: list[WindowRows] = []
    w = Windows(lambda r: rows.append(r) or [], 10.0)
    dst = np.zeros((3, 1), np.uint64)
    one = np.ones(1, np.bool_)
    for ts in (5, 25, 3):  # seconds: window 0, window 2 (closes 0), then late for window 0
        w.add_columns(_keys(1), dst, one, np.array([ts * 10**9]), np.array([100]), 1)
        w.end_batch()
    w.close()
    starts = [int(s) // 10**9 for r in rows for s in r.start_ns]
    packets_ = [int(c[0]) for r in rows for c in r.counts]
    assert starts == [0, 20] and packets_ == [1, 2] and w.late == 1


def test_a_flood_of_ports_closes_windows_early_and_loses_no_packet() -> None:
    rows: list[WindowRows] = []
    w = Windows(lambda r: rows.append(r) or [], 10.0, max_open=1000)
    n = 5000
    keys = _keys(n)
    keys[2] = np.arange(n, dtype=np.uint64) + 0x020000000000  # 5,000 new MACs
    dst = np.zeros((3, n), np.uint64)
    dst[0], dst[1] = np.uint64(0xFFFF_FFFF_FFFF_FFFF), np.arange(n, dtype=np.uint64)
    for _ in range(3):
        w.add_columns(keys, dst, np.ones(n, np.bool_), np.zeros(n, np.int64), np.ones(n), 1)
        w.end_batch()
        assert w.open_rows + w.open_pairs <= 4 * n  # it never holds more than a batch past the cap
    w.close()
    assert w.splits >= 2
    assert sum(int(r.counts[:, 0].sum()) for r in rows) == 3 * n


def test_an_error_on_the_worker_is_raised_in_the_caller_not_hung_on() -> None:
    from detector.fast.windows.thread import BackgroundWindows

    def broken(rows: WindowRows) -> list[Any]:
        raise RuntimeError("model exploded")

    w = BackgroundWindows(broken, 10.0)
    dst, one = np.zeros((3, 1), np.uint64), np.ones(1, np.bool_)
    with pytest.raises(RuntimeError, match="model exploded"):
        for ts in (5, 15, 25, 35):  # each batch closes the window before it
            w.add_columns(_keys(1), dst, one, np.array([ts * 10**9]), np.array([100]), 1)
            w.end_batch()
            w.take_alerts()
