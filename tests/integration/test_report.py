"""`spoofwatch report` as an investigator uses it: replay with --timeline, report, open it."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.report.load import ALERT_COLUMNS
from tests.conftest import GOLDEN, PCAPS
from tests.integration.test_cli import spoofwatch

REPORTS = sorted(p.parent for p in (GOLDEN / "reports").glob("*/case.toml"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Tables(HTMLParser):
    """Every <table id=...> of a page as rows of cell texts (header row first), and the images."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[str] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = self.tables.setdefault(str(a["id"]), [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(str(a.get("src", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(html: str) -> Tables:
    t = Tables()
    t.feed(html)
    return t


def replay_and_report(case: Path, out: Path) -> subprocess.CompletedProcess[str]:
    spec = tomllib.loads((case / "case.toml").read_text())
    alerts, timeline = out / "alerts.jsonl", out / "timeline.parquet"
    replay = spoofwatch(
        "replay", *spec["captures"], "--quiet", "--alerts", str(alerts),
        "--timeline", str(timeline), "--bucket", str(spec["bucket"]),
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    return spoofwatch(
        "report", "--alerts", str(alerts), "--timeline", str(timeline), "--out", str(out / "r")
    )


@pytest.mark.parametrize("case", REPORTS, ids=lambda p: p.name)
def test_golden_report_incidents_and_csvs(case: Path, tmp_path: Path) -> None:
    result = replay_and_report(case, tmp_path)
    assert result.returncode == 0, result.stderr
    page = parse((tmp_path / "r" / "report.html").read_text())
    header, *rows = page.tables["incidents"]
    got = [dict(zip(header, row, strict=True)) for row in rows]
    expected = json.loads((case / "incidents.json").read_text())
    assert got == expected
    ports = pd.read_csv(tmp_path / "r" / "ports.csv", keep_default_na=False)
    assert ports["mac"].tolist() == [e["mac"] for e in expected]
    assert ports["packets"].tolist() == [int(e["packets"]) for e in expected]
    assert ports["offending"].tolist() == [e["offending"] for e in expected]
    alerts = pd.read_csv(tmp_path / "r" / "alerts.csv")
    assert list(alerts.columns) == [c for c in ALERT_COLUMNS if c != "line"]
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert alerts["kind"].tolist() == [json.loads(line)["kind"] for line in lines]
    parquet = pd.read_parquet(tmp_path / "r" / "alerts.parquet")
    assert parquet["src_ip"].tolist() == alerts["src_ip"].tolist()
    assert len(page.images) == len(expected)  # one plot per offending port
    headline = dict(page.tables["headline"])
    assert headline["Alerts"] == str(len(lines))
    assert "spoofwatch explain" in "".join(c for row in page.tables["alerts"] for c in row)


def test_plots_are_real_pngs_that_are_not_blank(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    assert replay_and_report(GOLDEN / "reports" / "incident", tmp_path).returncode == 0
    page = parse((tmp_path / "r" / "report.html").read_text())
    assert len(page.images) == 2
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        png = mpimg.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])), format="png")
        assert png.shape[0] > 150 and png.shape[1] > 500
        assert np.asarray(png).std() > 0.05  # lines and shading, not one colour


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test installs it)")
def test_chromium_renders_the_incident_table_and_every_plot(tmp_path: Path) -> None:
    """Headless Chromium opens the page as a person would; a probe script appended to a copy
    reports each image as the browser decoded it, and a screenshot must not be blank."""
    import matplotlib.image as mpimg

    assert replay_and_report(GOLDEN / "reports" / "incident", tmp_path).returncode == 0
    page = (tmp_path / "r" / "report.html").read_text()
    probe = (
        "<script>for (const i of document.images) i.setAttribute('data-rendered',"
        " i.complete + ':' + i.naturalWidth + 'x' + i.naturalHeight)</script>"
    )
    copy = tmp_path / "r" / "probe.html"
    copy.write_text(
        page.replace(
            'content="default-src', "content=\"script-src 'unsafe-inline'; default-src"
        ).replace("</body>", probe + "</body>")
    )
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
    ]  # fmt: skip
    dom = subprocess.run(
        [str(CHROMIUM), *flags, "--dump-dom", copy.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = parse(dom.stdout)
    assert len(rendered.tables["incidents"]) == 3  # header and two ports
    sizes = [v for v in _attrs(dom.stdout, "data-rendered")]
    assert len(sizes) == 2 and all(s.startswith("true:") for s in sizes), sizes
    assert all(int(s.split(":")[1].split("x")[0]) > 500 for s in sizes)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [str(CHROMIUM), *flags, f"--screenshot={shot}", "--window-size=1280,1600",
         (tmp_path / "r" / "report.html").as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    img = mpimg.imread(shot)
    assert img.shape[0] == 1600 and np.asarray(img).std() > 0.05


def _attrs(html: str, name: str) -> list[str]:
    found: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(str(v) for k, v in attrs if k == name)

    Finder().feed(html)
    return found


def test_a_bad_alert_line_is_named_and_exits_1(tmp_path: Path) -> None:
    good = spoofwatch("replay", "--quiet", "geneve-impersonation.pcap").stdout.splitlines()
    bad = tmp_path / "a.jsonl"
    bad.write_text(good[0] + "\n{not json\n")
    result = spoofwatch("report", "--alerts", str(bad), "--out", str(tmp_path / "r"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"spoofwatch: error: {bad} line 2: not JSON (Expecting property name enclosed in double quotes)"
    ]


def test_a_timeline_of_another_version_names_it(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "old.parquet"
    table = pa.table({"time": pa.array([], pa.timestamp("ns", tz="UTC"))})
    meta = json.dumps({"format": "spoofwatch-timeline", "version": 99})
    pq.write_table(table.replace_schema_metadata({b"spoofwatch": meta.encode()}), path)
    (tmp_path / "a.jsonl").write_text("")
    result = spoofwatch(
        "report", "--alerts", str(tmp_path / "a.jsonl"), "--timeline", str(path),
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "timeline schema version 99" in result.stderr and "reads version 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_empty_capture_gives_a_report_that_says_no_traffic(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pcap"
    empty.write_bytes((PCAPS / "geneve-ip-change.pcap").read_bytes()[:24])  # header only
    alerts, timeline = tmp_path / "a.jsonl", tmp_path / "t.parquet"
    replay = spoofwatch(
        "replay", str(empty), "--quiet", "--alerts", str(alerts), "--timeline", str(timeline)
    )
    assert replay.returncode == 0, replay.stderr
    result = spoofwatch(
        "report", "--alerts", str(alerts), "--timeline", str(timeline), "--out", str(tmp_path / "r")
    )
    assert result.returncode == 0, result.stderr
    page = parse((tmp_path / "r" / "report.html").read_text())
    assert "no traffic" in (tmp_path / "r" / "report.html").read_text()
    assert dict(page.tables["headline"])["Packets"] == "0"
    assert "incidents" not in page.tables and not page.images
