"""anomaly: a port's window of traffic that the behaviour model scores as unlike its baseline.

Unlike the other detectors it judges closed windows, not frames: the batch path counts each
port's frames per window (detector.fast.windows.path) and hands the closed ones here. A window that
scores at least the threshold is one alert, which names the port and window and explains the
score by the three features furthest above their training baseline for the segment.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from detector.behaviour.features import FEATURES, FLOORS, History, model_space, natural, windows
from detector.behaviour.modelfile import Model
from detector.bindings.table import BindingTable
from detector.detectors.engine import EngineStats
from detector.values import Alert, AlertKind, Evidence, PortKey, Severity, WindowRows, rfc3339

TOP = 3  # features named in an alert


class Anomaly:
    """Score closed windows with a behaviour model; alert on those at or above the threshold."""

    name: ClassVar[str] = "anomaly"

    def __init__(
        self,
        model: Model,
        table: BindingTable,
        stats: EngineStats,
        threshold: float | None = None,
    ) -> None:
        self.model = model
        self.table = table
        self.stats = stats
        self.threshold = model.threshold if threshold is None else threshold
        self.history = History()
        self.scored = 0  # windows scored
        self.first_ns = self.last_ns = 0  # the first and last window start scored

    def judge(self, rows: WindowRows) -> list[Alert]:
        """The alerts of these closed windows, in window order."""
        alerts: list[Alert] = []
        if len(rows):
            self.first_ns = int(rows.start_ns[0]) if not self.scored else self.first_ns
            self.last_ns = max(self.last_ns, int(rows.start_ns[-1]))
        for part in windows(rows):
            values = natural(rows, part, self.history)
            scores = self.model.knn.score(model_space(values))
            hit = scores >= self.threshold
            self.history.update(rows, part, ~hit)
            self.scored += len(values)
            for i in np.flatnonzero(hit).tolist():
                alerts.append(self._alert(rows, part.start + i, values[i], float(scores[i])))
        return alerts

    def explain(self, segment: str, values: np.ndarray) -> list[dict[str, object]]:
        """The TOP features furthest above the segment's training baseline, in model space
        (distance from the median in units of the median-to-p99 spread)."""
        base = self.model.baseline(segment)
        x, median, p99 = model_space(np.vstack((values, base.median, base.p99)))
        spread = np.maximum(p99 - median, FLOORS)
        far = (x - median) / spread
        order = np.argsort(-far, kind="stable")[:TOP]
        return [
            {"feature": FEATURES[j], "value": _round(values[j]), "p99": _round(base.p99[j])}
            for j in order.tolist()
        ]

    def _alert(self, rows: WindowRows, i: int, values: np.ndarray, score: float) -> Alert:
        segment, mac = rows.segment[i], int(rows.mac[i]).to_bytes(6, "big").hex(":")
        port = PortKey(segment, mac)
        start = int(rows.start_ns[i])
        seconds = self.model.window_seconds
        top = self.explain(segment, values)
        named = ", ".join(f"{t['feature']} {t['value']} (p99 {t['p99']})" for t in top)
        packets = int(values[FEATURES.index("packets")])
        self.stats.alerts[AlertKind.ANOMALY] += 1
        self.stats.findings[AlertKind.ANOMALY] += packets  # the packets behind the alert
        return Alert(
            kind=AlertKind.ANOMALY,
            severity=Severity.WARNING,
            port=port,
            vni=rows.vni[i],
            src_ip=None,
            evidence=Evidence(rows.source, int(rows.first_packet[i]), int(rows.first_ts_ns[i])),
            count=packets,
            bindings=self.table.bindings(port) if port in self.table else (),
            impersonates=None,
            message=f"{mac} on {segment} behaved unlike its baseline in the {seconds:g} s window"
            f" from {rfc3339(start)}: score {score:.3f} (threshold {self.threshold:.3f});"
            f" most unusual: {named}",
            first_seen_ns=start,
            detail=(
                ("window_start", rfc3339(start)),
                ("window_seconds", seconds),
                ("score", round(score, 4)),
                ("threshold", round(self.threshold, 4)),
                ("top_features", top),
            ),
            key=str(start),
        )


def window_order(alert: Alert) -> tuple[int, str, str]:
    """The order of window alerts: by window, then port (independent of how rows were kept,
    so that `replay --jobs` can merge its workers' alerts as one process writes them)."""
    return (alert.first_seen_ns, alert.port.segment, alert.port.mac)


def _round(value: float) -> float | int:
    """Whole numbers as integers, large ones rounded to one, others to three decimals."""
    v = float(value)
    return int(v) if v.is_integer() or abs(v) >= 100 else round(v, 3)
