"""The report's readers, tables and page: both alert readers agree, bad lines are named, hostile
text is escaped, incidents aggregate as an investigator reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from detector import report
from detector.errors import ReportError
from detector.report import incidents, load
from tests.conftest import GOLDEN


def alert(mac: str, src: str, kind: str = "unbound-source", **extra: object) -> dict[str, object]:
    a: dict[str, object] = {
        "event_type": "alert",
        "schema": 1,
        "kind": kind,
        "severity": "critical",
        "segment": "geneve:5001",
        "vni": 5001,
        "mac": mac,
        "src_ip": src,
        "first_seen": "2026-01-01T00:00:01.000000Z",
        "count": 1,
        "bindings": [{"address": "10.0.0.1", "method": "arp"}],
        "impersonates": None,
        "evidence": {"file": "x.pcap", "packet": 7, "time": "2026-01-01T00:00:01.000000Z"},
        "message": "m",
        "detail": {},
    }
    a.update(extra)
    return a


def write(path: Path, alerts: list[dict[str, object]], blank: bool = False) -> Path:
    lines = [json.dumps(a) for a in alerts]
    path.write_text("\n".join(lines) + ("\n\n" if blank else "\n"))
    return path


def test_arrow_and_line_readers_give_the_same_frame(tmp_path: Path) -> None:
    path = GOLDEN / "incident-two-stories" / "expected.jsonl"
    fast = load.alerts(str(path))
    slow = load._alerts_python(str(path), progress=False)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast["impersonates.mac"].tolist()[2:] == ["00:50:56:a1:00:02"] * 2
    assert fast["bound"].tolist() == ["10.1.1.10", "10.1.1.10", "10.1.1.30", "10.1.1.30"]
    assert fast["line"].tolist() == [1, 2, 3, 4]


def test_a_blank_line_keeps_line_numbers_right(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        json.dumps(alert("02:00:00:00:00:01", "10.9.9.9"))
        + "\n\n"
        + json.dumps(alert("02:00:00:00:00:02", "10.9.9.8"))
        + "\n"
    )
    frame = load.alerts(str(path))
    assert frame["line"].tolist() == [1, 3]  # what `sed -n 3p` shows


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"event_type": "flow"}\n', "line 1: not a spoofwatch alert"),
        ('{"event_type": "alert", "kind": "x"}\n', "line 1: an alert without a valid 'severity'"),
        ("[1, 2]\n", "line 1: not a spoofwatch alert"),
        ("\ufeff{}\n", "line 1: not JSON"),
    ],
)
def test_what_is_not_an_alert_is_named_by_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReportError, match=message):
        load.alerts(str(path))


def test_incidents_join_values_in_order_and_keep_the_last_binding() -> None:
    rows = [
        alert("02:00:00:00:00:01", "10.9.9.9", kind="binding-limit"),
        alert("02:00:00:00:00:01", "10.9.9.9"),
        alert("02:00:00:00:00:01", "10.9.9.7", bindings=[{"address": "10.0.0.2"}]),
        alert("02:00:00:00:00:02", "10.9.9.8", severity="info", kind="mac-move"),
    ]
    frame = pd.DataFrame(
        [load._alert_row("x", n, json.dumps(a)) for n, a in enumerate(rows, 1)],
        columns=list(load.ALERT_COLUMNS),
    )
    table = incidents.incidents(load.Inputs(frame))
    assert len(table) == 1  # the info alert is not an incident
    row = table.iloc[0]
    assert row["kinds"] == "binding-limit, unbound-source"
    assert row["offending"] == "10.9.9.9, 10.9.9.7"
    assert row["bound"] == "10.0.0.2" and row["alerts"] == 3 and row["packets"] == 3


def test_hostile_text_in_alerts_is_escaped_in_the_page(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>"
    path = write(tmp_path / "a.jsonl", [alert(evil, evil, message=evil, segment=evil)])
    done = report.build(load.Inputs(load.alerts(str(path))), str(tmp_path / "r"), str(path))
    page = (done.directory / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "default-src 'none'" in page  # and the page forbids scripts anyway


def test_a_report_without_a_timeline_says_what_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", [alert("02:00:00:00:00:01", "10.9.9.9")])
    done = report.build(load.Inputs(load.alerts(str(path))), str(tmp_path / "r"), str(path))
    page = (done.directory / "report.html").read_text()
    assert "no plots: no timeline was given" in page
    assert "not known: give the timeline of the replay" in page
    assert done.incidents == 1 and done.plots == 0


def test_a_capped_binding_table_says_how_many_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from detector.config.settings import Config
    from detector.runners import pipeline as pipeline_mod
    from tests.conftest import PCAPS, MemorySink

    monkeypatch.setattr(pipeline_mod, "META_BINDINGS", 1)
    p = pipeline_mod.Pipeline(Config(), MemorySink())
    report_ = p.replay([str(PCAPS / "geneve-impersonation.pcap")])
    meta = p.timeline_meta(report_.captures)
    assert len(meta["bindings"]) == 1 and meta["bindings_total"] == 3
    path = write(tmp_path / "a.jsonl", [alert("02:00:00:00:00:01", "10.9.9.9")])
    inputs = load.Inputs(load.alerts(str(path)), meta=meta)
    done = report.build(inputs, str(tmp_path / "r"), str(path))
    assert "and 2 more, not kept" in (done.directory / "report.html").read_text()


def test_nsx_bindings_are_shown_beside_the_table(tmp_path: Path) -> None:
    from tests.fuzz.targets import SNAPSHOT
    from tests.integration.test_report import parse

    snap = tmp_path / "nsx.json"
    snap.write_text(json.dumps(SNAPSHOT))
    path = write(tmp_path / "a.jsonl", [alert("00:50:56:a1:00:01", "10.1.1.99")])
    inputs = load.Inputs(load.alerts(str(path)))
    inputs.nsx, inputs.nsx_source = load.nsx_snapshot(str(snap))
    done = report.build(inputs, str(tmp_path / "r"), str(path))
    page = (done.directory / "report.html").read_text()
    header, *rows = parse(page).tables["nsx-bindings"]
    got = sorted(tuple(r) for r in rows)
    assert header == ["segment", "mac", "address", "source"]
    assert got == [
        ("geneve:5001", "00:50:56:a1:00:01", "10.1.1.0/28", "USER_DEFINED"),
        ("geneve:5001", "00:50:56:a1:00:01", "10.1.1.10", "ARP_SNOOPING"),
    ]
    assert "https://nsx.example as of 2026-01-01T00:00:00Z" in page
