"""The per-port timeline: exact aggregation, closed buckets, late packets, a bounded table, files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from detector.errors import SinkError
from detector.fast.timeline.path import Timeline, frame_source
from detector.fast.timeline.thread import BackgroundTimeline
from detector.report import load
from detector.sinks.timeline_files import RotatingTimeline, TimelineWriter
from detector.tables import TIMELINE_NAMES
from detector.values import Arp, Frame, PortKey
from tests.unit.detectors.test_engine import frame

V4 = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def rows(
    macs: list[int], buckets: list[int], dsts: list[int], unbound: list[int] | None = None
) -> tuple[Any, ...]:
    n = len(macs)
    keys = np.zeros((7, n), np.uint64)
    keys[0] = (1 << 24) | 5001
    keys[1] = macs
    keys[2], keys[3] = V4, 0x0A010100 + np.array(macs, np.uint64)
    keys[4], keys[5] = V4, 0xAC100001
    keys[6] = buckets
    dst = np.zeros((2, n), np.uint64)
    dst[0], dst[1] = V4, dsts
    return keys, dst, np.full(n, 100, np.int64), np.array(unbound or [0] * n, np.int64)


def frames_of(chunks: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame(c) for c in chunks], ignore_index=True)


def test_rows_aggregate_exactly_and_buckets_close_after_the_slack() -> None:
    out: list[dict[str, Any]] = []
    tl = Timeline(out.append, bucket_seconds=1.0, slack=2)
    tl.add(*rows([1, 1, 1, 2], [0, 0, 0, 0], [7, 7, 8, 7], [0, 1, 1, 0]))
    tl.end_batch()
    assert out == []  # bucket 0 is still open: later packets may belong to it
    tl.add(*rows([1], [3], [9]))
    tl.end_batch()
    got = frames_of(out)
    assert list(got.columns) == list(TIMELINE_NAMES)
    first = got[got["mac"] == "00:00:00:00:00:01"].iloc[0]
    assert (first["packets"], first["bytes"], first["destinations"]) == (3, 300, 2)
    assert (first["unbound_packets"], first["bound"]) == (2, False)
    assert first["src_ip"] == "10.1.1.1" and first["tunnel_endpoint"] == "172.16.0.1"
    assert first["segment"] == "geneve:5001" and first["encap"] == "geneve"
    assert str(first["time"]) == "1970-01-01 00:00:00"
    assert len(got) == 2 and tl.open_groups == 1  # bucket 3 stays open
    tl.close()
    assert tl.rows_out == 3 and tl.open_groups == 0


def test_a_packet_after_its_bucket_was_written_is_counted_late() -> None:
    out: list[dict[str, Any]] = []
    tl = Timeline(out.append, slack=1)
    tl.add(*rows([1], [0], [1]))
    tl.add(*rows([1], [5], [1]))
    tl.end_batch()
    tl.add(*rows([1, 1], [0, 0], [1, 2]))  # bucket 0 again: already written
    tl.close()
    got = frames_of(out)
    assert tl.late == 2
    assert sorted(got["packets"].tolist()) == [1, 1, 2]  # bucket 0 has a second row


def test_open_rows_are_capped_and_written_early() -> None:
    out: list[dict[str, Any]] = []
    tl = Timeline(out.append, max_open=1000)
    for start in range(0, 5000, 500):
        macs = list(range(start, start + 500))
        tl.add(*rows(macs, [0] * 500, [1] * 500))
        tl.end_batch()
        assert tl.open_groups + tl.open_pairs <= 1000 + 2 * 500
    tl.close()
    assert tl.splits >= 4
    assert frames_of(out)["packets"].sum() == 5000  # nothing lost, only split
    assert len(tl.groups) <= 1 << 14  # the tables shrank back


def test_the_source_is_what_the_table_checks() -> None:
    teach = Arp(1, "00:50:56:a1:00:01", "10.1.1.10", "00:00:00:00:00:00", "10.1.1.1")
    probe = Arp(1, "00:50:56:a1:00:01", "0.0.0.0", "00:00:00:00:00:00", "10.1.1.10")
    other_sender = Arp(2, "00:50:56:a1:00:09", "10.1.1.99", "00:00:00:00:00:00", "10.1.1.1")
    mac = "00:50:56:a1:00:01"
    assert frame_source(frame(mac, None, arp=teach)) == "10.1.1.10"
    assert frame_source(frame(mac, None, arp=probe)) is None
    assert frame_source(frame(mac, None, arp=other_sender)) is None
    assert frame_source(frame(mac, "10.1.1.10")) == "10.1.1.10"
    assert frame_source(frame(mac, "0.0.0.0")) is None
    assert frame_source(frame(mac, "::")) is None


def test_frames_of_the_exact_path_name_their_segment_and_destination() -> None:
    out: list[dict[str, Any]] = []
    tl = Timeline(out.append)
    f: Frame = frame("00:50:56:a1:00:01", "2001:db8::1")
    f = dataclasses.replace(f, encap="erspan", vni=None, dst_ip="2001:db8::2")
    tl.add_frame(f, PortKey("erspan:7/vlan:10", f.src_mac or ""), "2001:db8::1", True, 90)
    tl.close()
    row = frames_of(out).iloc[0]
    assert (row["segment"], row["encap"], row["src_ip"]) == (
        "erspan:7/vlan:10",
        "erspan",
        "2001:db8::1",
    )
    assert (row["destinations"], row["unbound_packets"], row["bytes"]) == (1, 1, 90)


@pytest.mark.parametrize("name", ["t.parquet", "t.csv"])
def test_a_timeline_file_reads_back_with_its_metadata(tmp_path: Path, name: str) -> None:
    out: list[dict[str, Any]] = []
    tl = Timeline(out.append)
    tl.add(*rows([1, 2], [0, 0], [5, 6], [1, 0]))
    tl.close()
    path = tmp_path / name
    writer = TimelineWriter(path, 1.0)
    for chunk in out:
        writer.write(chunk)
    writer.close({"packets": 2, "captures": [{"name": "x.pcap"}]})
    frame_, meta = load.timeline(str(path))
    assert meta["packets"] == 2 and meta["rows"] == 2 and meta["bucket_seconds"] == 1.0
    expected = frames_of(out)
    assert frame_["packets"].tolist() == expected["packets"].tolist()
    assert frame_["src_ip"].tolist() == expected["src_ip"].tolist()
    assert frame_["bound"].tolist() == [False, True]
    assert str(frame_["time"].dt.tz) == "UTC"


def test_run_rotates_its_files_and_keeps_the_directory_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_800_000_000.0]
    monkeypatch.setattr("detector.sinks.timeline_files.time.time", lambda: clock[0])
    files = RotatingTimeline(str(tmp_path), 1.0, 60, 12_000, lambda: {"packets": 0})
    out: list[dict[str, Any]] = []
    tl = Timeline(out.append)
    tl.add(*rows(list(range(200)), [0] * 200, list(range(200))))
    tl.close()
    for _ in range(8):
        files.write(out[0])
        clock[0] += 61  # each write lands in a new file
        files.tick()
    kept = sorted(tmp_path.glob("timeline-*.parquet"))
    assert files.deleted > 0 and kept
    assert sum(p.stat().st_size for p in kept) <= 12_000
    assert json.loads(json.dumps(load.timeline(str(kept[-1]))[1]))["packets"] == 0


def test_the_worker_thread_gives_the_same_rows_and_hands_errors_back() -> None:
    out: list[dict[str, Any]] = []
    tl = BackgroundTimeline(out.append, slack=1)
    for bucket in range(6):
        tl.add(*rows([1, 2, 3], [bucket] * 3, [bucket, 9, 9]))
        tl.end_batch()
    tl.close()
    assert frames_of(out)["packets"].sum() == 18 and tl.rows_out == 18

    def full(_: dict[str, Any]) -> None:
        raise SinkError("cannot write the timeline t.parquet: No space left on device")

    broken = BackgroundTimeline(full)
    broken.add(*rows([1], [0], [1]))
    with pytest.raises(SinkError, match="No space left"):
        broken.close()
