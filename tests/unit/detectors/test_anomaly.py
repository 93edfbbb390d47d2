"""The anomaly detector on hand-made windows: which windows alert, how they are explained, and
the alert's JSON shape."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from detector.behaviour import knn
from detector.behaviour.features import FEATURES, FLOORS, model_space
from detector.behaviour.modelfile import Baseline, Model
from detector.bindings.table import BindingTable
from detector.detectors.anomaly import Anomaly
from detector.detectors.engine import EngineStats
from detector.sinks.jsonl import dumps
from detector.values import WINDOW_COUNTS, WindowRows
from tests.conftest import validate_alerts

NORMAL = {"packets": 20, "bytes": 4000, "dst_ips": 3, "dst_ports": 2, "syn": 1}


def counts(**values: int) -> list[int]:
    return [values.get(name, 0) for name in WINDOW_COUNTS]


def detector() -> Anomaly:
    rng = np.random.default_rng(5)
    normal = np.array([counts(**NORMAL)] * 300, np.float64)
    normal[:, :5] *= rng.uniform(0.7, 1.3, (300, 1))  # packets, bytes, ... vary together
    values = np.column_stack(
        [normal[:, 0], normal[:, 1], normal[:, 7], normal[:, 8], normal[:, 2] / normal[:, 0]]
        + [np.zeros(300)] * 7 + [np.ones(300)]
    )  # fmt: skip
    fitted, own = knn.fit(model_space(values), FLOORS, 5)
    base = Baseline(np.median(values, axis=0), np.percentile(values, 99, axis=0), 300)
    model = Model(
        fitted, 10.0, float(own.max()) * 1.5, {"*": base}, (), np.zeros((0, 3), np.uint64)
    )
    return Anomaly(model, BindingTable(), EngineStats())


def rows(*windows: list[int]) -> WindowRows:
    n = len(windows)
    return WindowRows(
        "t.pcap", ("geneve:7",) * n, (7,) * n, np.arange(1, n + 1, dtype=np.uint64),
        np.full(n, 1_767_225_600 * 10**9, np.int64), np.arange(n, dtype=np.int64) + 10,
        np.full(n, 1_767_225_601 * 10**9, np.int64), np.array(windows, np.int64).reshape(n, len(WINDOW_COUNTS)),
    )  # fmt: skip


def test_a_sweep_alerts_and_is_explained_by_its_arp_features() -> None:
    a = detector()
    sweep = counts(packets=90, bytes=5400, arp_requests=85, arp_targets=85, group=85)
    alerts = a.judge(rows(counts(**NORMAL), sweep))
    assert a.scored == 2 and len(alerts) == 1
    alert = alerts[0]
    assert (alert.kind, alert.severity, alert.port.mac) == (
        "anomaly",
        "warning",
        "00:00:00:00:00:02",
    )
    detail = dict(alert.detail)
    top = [t["feature"] for t in detail["top_features"]]  # type: ignore[union-attr]
    assert set(top) == {"arp_requests", "arp_targets", "group_share"}
    assert detail["score"] >= detail["threshold"] and alert.count == 90
    assert alert.evidence.packet == 11 and alert.first_seen_ns == 1_767_225_600 * 10**9
    assert a.stats.alerts["anomaly"] == 1
    validate_alerts([dumps(alert)])


def test_no_traffic_no_windows_no_alerts() -> None:
    a = detector()
    assert a.judge(rows()) == [] and a.scored == 0


def test_the_schema_holds_an_anomaly_to_its_detail() -> None:
    a = detector()
    sweep = counts(packets=90, bytes=5400, arp_requests=85, arp_targets=85, group=85)
    doc = json.loads(dumps(a.judge(rows(sweep))[0]))
    del doc["detail"]["top_features"]
    with pytest.raises(jsonschema.ValidationError, match="top_features"):
        validate_alerts([json.dumps(doc)])


def test_feature_names_cover_the_issue_list() -> None:
    assert len(FEATURES) == 13 and "new_peers" in FEATURES and "history_ratio" in FEATURES
