"""Evaluation: labelled captures through the anomaly detector; precision, recall, false alerts.

A labels file names, per capture, the intervals in which a port attacked:
`{"captures": {"attack-arp-sweep.pcap": [{"attack": "arp-sweep", "segment": "geneve:5001",
"mac": "00:50:56:b0:00:04", "start": "2026-01-01T00:01:00Z", "end": "2026-01-01T00:01:30Z"}],
"benign-backup.pcap": []}}`. Every window of a labelled port that overlaps its interval is an
attack window; an anomaly alert on one is true, any other is false. A capture with no
intervals is benign: its duration is the time over which false alerts per hour are counted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from detector.config.anomaly import AnomalyConfig
from detector.config.settings import Config
from detector.errors import ConfigError
from detector.runners.pipeline import Pipeline
from detector.values import Alert, AlertKind

NS = 1_000_000_000
Window = tuple[str, str, int]  # segment, MAC, window start (ns)


@dataclass(frozen=True, slots=True)
class Result:
    """One capture's outcome."""

    capture: str
    windows: int  # port windows scored
    attack_windows: int
    alerts: int
    true_alerts: int
    seconds: float  # from the first window's start to the last one's end
    attacks: tuple[str, ...]

    @property
    def benign(self) -> bool:
        return not self.attacks


class _Collect:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def emit(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(a for a in alerts if a.kind is AlertKind.ANOMALY)

    def close(self) -> None:
        pass


def load_labels(path: str) -> dict[str, list[dict[str, Any]]]:
    """The labels file, checked; ConfigError with one line if it is not one."""
    try:
        doc = json.loads(Path(path).read_text())
        captures = doc["captures"]
        for name, spans in captures.items():
            for span in spans:
                for key in ("attack", "segment", "mac", "start", "end"):
                    if key not in span:
                        raise ValueError(f"{name}: an interval without {key!r}")
                span["start_ns"] = _ns(span["start"])
                span["end_ns"] = _ns(span["end"])
    except OSError as exc:
        raise ConfigError(f"cannot read the labels {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path} is not a labels file ({exc})") from None
    return dict(captures)


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * NS


def evaluate(
    config: Config, model: str, labels: dict[str, list[dict[str, Any]]], captures: Sequence[str],
    threshold: float | None = None,
) -> list[Result]:  # fmt: skip
    """Score each capture on its own (a fresh table and history), as a collector would see it."""
    results = []
    for path in captures:
        name = Path(path).name
        if name not in labels:
            raise ConfigError(f"{path}: the labels file says nothing of {name} (use [] if benign)")
        cfg = dataclasses.replace(config, anomaly=AnomalyConfig(model, threshold=threshold))
        sink = _Collect()
        pipeline = Pipeline(cfg, sink)
        report = pipeline.replay([path])
        if report.failures:
            raise ConfigError("; ".join(report.failures))
        assert pipeline.anomaly is not None
        an = pipeline.anomaly
        window_ns = round(an.model.window_seconds * NS)
        attack = _attack_windows(labels[name], window_ns)
        alerted = {(a.port.segment, a.port.mac, a.first_seen_ns) for a in sink.alerts}
        span = (an.last_ns + window_ns - an.first_ns) / NS if an.scored else 0.0
        results.append(
            Result(
                name,
                an.scored,
                len(attack),
                len(sink.alerts),
                len(alerted & attack),
                span,
                tuple(sorted({s["attack"] for s in labels[name]})),
            )
        )
    return results


def _attack_windows(spans: list[dict[str, Any]], window_ns: int) -> set[Window]:
    out: set[Window] = set()
    for s in spans:
        start = s["start_ns"] // window_ns * window_ns
        for w in range(start, s["end_ns"], window_ns):
            out.add((s["segment"], s["mac"].lower(), w))
    return out


def table(results: Sequence[Result]) -> str:
    """A Markdown table of the results, and the totals."""
    lines = [
        "| capture | attack | port windows | attack windows | alerts | true | precision | recall |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.capture} | {', '.join(r.attacks) or 'benign'} | {r.windows} |"
            f" {r.attack_windows} | {r.alerts} | {r.true_alerts} |"
            f" {_ratio(r.true_alerts, r.alerts)} | {_ratio(r.true_alerts, r.attack_windows)} |"
        )
    alerts = sum(r.alerts for r in results)
    true = sum(r.true_alerts for r in results)
    attack = sum(r.attack_windows for r in results)
    benign_hours = sum(r.seconds for r in results if r.benign) / 3600
    benign_false = sum(r.alerts for r in results if r.benign)
    lines.append(
        f"| **all** | | {sum(r.windows for r in results)} | {attack} | {alerts} | {true} |"
        f" {_ratio(true, alerts)} | {_ratio(true, attack)} |"
    )
    rate = f"{benign_false / benign_hours:.2f}" if benign_hours else "n/a"
    lines.append("")
    lines.append(
        f"false alerts per hour of benign traffic: {rate}"
        f" ({benign_false} in {benign_hours * 60:.1f} minutes of benign captures)"
    )
    return "\n".join(lines)


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "n/a"
