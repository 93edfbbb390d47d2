"""The anomaly detector on the labelled behaviour captures: trained on benign traffic only, it
finds every attack window, explains it by the right features, and stays silent on benign churn."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from detector.behaviour import modelfile
from detector.behaviour.features import FEATURES
from detector.config.settings import load_or_default
from detector.runners import evaluate as ev
from tests.conftest import BEHAVIOUR, validate_alerts
from tests.integration.daemon_util import spoofwatch

LABELS = BEHAVIOUR / "labels.json"
ATTACKS = sorted(BEHAVIOUR.glob("attack-*.pcap.gz"))
BENIGN = sorted(BEHAVIOUR.glob("benign-*.pcap.gz"))


@pytest.fixture(scope="module")
def results(behaviour_model: Path) -> dict[str, ev.Result]:
    labels = ev.load_labels(str(LABELS))
    got = ev.evaluate(
        load_or_default(None), str(behaviour_model), labels, map(str, ATTACKS + BENIGN)
    )
    return {r.capture: r for r in got}


def test_training_kept_the_baseline_and_wrote_its_windows(behaviour_model: Path) -> None:
    model = modelfile.load(str(behaviour_model))
    assert model.info["windows"] > 2000 and model.info["ports"] == 12
    assert model.window_seconds == 10.0 and len(model.peers) > 10
    review = pd.read_csv(behaviour_model.with_suffix(".csv"))
    assert len(review) == model.info["windows"]
    assert list(review.columns) == ["window_start", "segment", "mac", *FEATURES, "score"]
    assert review["score"].max() < model.threshold  # no training window would alert


@pytest.mark.parametrize("capture", [p.name for p in ATTACKS])
def test_every_attack_window_is_found(results: dict[str, ev.Result], capture: str) -> None:
    r = results[capture]
    assert r.attack_windows == 3 and r.true_alerts == 3, r
    assert r.alerts == r.true_alerts, f"false alerts in {capture}: {r}"


@pytest.mark.parametrize("capture", [p.name for p in BENIGN])
def test_benign_churn_raises_no_anomaly(results: dict[str, ev.Result], capture: str) -> None:
    r = results[capture]
    assert r.windows > 200 and r.alerts == 0, r


def anomalies(behaviour_model: Path, capture: str, tmp_path: Path) -> list[dict]:  # type: ignore[type-arg]
    cfg = tmp_path / "anomaly.toml"
    cfg.write_text(f'[anomaly]\nmodel = "{behaviour_model}"\n')
    done = spoofwatch("replay", str(BEHAVIOUR / capture), "--config", str(cfg), "--quiet")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    validate_alerts(lines)
    return [a for a in map(json.loads, lines) if a["kind"] == "anomaly"]


@pytest.mark.parametrize(
    ("capture", "expected"),
    [
        ("attack-arp-sweep.pcap.gz", {"arp_requests", "arp_targets"}),
        ("attack-port-scan.pcap.gz", {"dst_ports", "syn_share"}),
        ("attack-dhcp-starvation.pcap.gz", {"dhcp_messages", "dhcp_clients"}),
        ("attack-fan-out.pcap.gz", {"new_peers", "dst_ips"}),
        ("attack-ping-flood.pcap.gz", {"packets", "bytes"}),
    ],
)
def test_the_alert_names_the_port_window_and_features(
    behaviour_model: Path, tmp_path: Path, capture: str, expected: set[str]
) -> None:
    found = anomalies(behaviour_model, capture, tmp_path)
    assert [a["detail"]["window_start"][11:19] for a in found] == [
        "00:01:00",
        "00:01:10",
        "00:01:20",
    ]
    for a in found:
        assert (a["mac"], a["segment"], a["severity"]) == (
            "00:50:56:b0:00:04",
            "geneve:5001",
            "warning",
        )
        top = a["detail"]["top_features"]
        assert len(top) == 3 and expected <= {t["feature"] for t in top}, top
        assert all(t["value"] > t["p99"] for t in top if t["feature"] in expected)
        assert a["detail"]["score"] >= a["detail"]["threshold"]
        assert "10.1.1.14" in {b["address"] for b in a["bindings"]}  # it kept its own address


def test_model_evaluate_prints_the_table(behaviour_model: Path) -> None:
    done = spoofwatch(
        "model", "evaluate", "--model", str(behaviour_model), "--labels", str(LABELS),
        *map(str, ATTACKS + BENIGN),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| **all** | | " in done.stdout and "| 15 | 15 | 15 | 1.000 | 1.000 |" in done.stdout
    assert "false alerts per hour of benign traffic: 0.00 (0 in 12.0 minutes" in done.stdout


def test_bad_models_and_settings_give_one_line(behaviour_model: Path, tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"\x89PNG not a model")
    other = tmp_path / "other.npz"
    with np.load(behaviour_model) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(bytes(arrays["header"]).decode())
    header["features"] = [*header["features"][:-1], "tls_handshakes"]
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(other, **arrays)
    cases = {
        f'model = "{tmp_path / "junk.npz"}"': "is not a spoofwatch behaviour model",
        f'model = "{other}"': "was trained on other features",
        f'model = "{behaviour_model}"\nwindow_seconds = 5': "trained on 10 s windows",
        "threshold = 2": "anomaly.model: the behaviour model file is required",
    }
    for body, message in cases.items():
        cfg = tmp_path / "a.toml"
        cfg.write_text(f"[anomaly]\n{body}\n")
        done = spoofwatch("replay", str(BEHAVIOUR / "benign-quiet.pcap.gz"), "--config", str(cfg))
        assert done.returncode != 0 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = spoofwatch("model", "train", str(BEHAVIOUR / "labels.json"), "--out", str(other))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_worker_thread_gives_the_alerts_of_one_thread_in_the_same_order(
    behaviour_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replay counts and scores windows on a worker thread; its alerts come one batch late,
    at fixed points, so every run writes the same alerts in the same order as one thread."""
    from detector.config.anomaly import AnomalyConfig
    from detector.fast.packets import path as packets
    from detector.fast.windows.path import Windows
    from detector.runners import pipeline as pipeline_mod
    from tests.conftest import MemorySink

    monkeypatch.setattr(packets, "MIN_BATCH", 64)  # many batches, so the lag shows
    cfg = dataclasses.replace(load_or_default(None), anomaly=AnomalyConfig(str(behaviour_model)))
    captures = [str(ATTACKS[0])]

    def alerts() -> list[tuple]:  # type: ignore[type-arg]
        sink = MemorySink()
        pipeline_mod.Pipeline(cfg, sink).replay(captures)
        return [(a.kind, a.port, a.evidence, a.detail) for a in sink.alerts]

    threaded = alerts()
    monkeypatch.setattr(pipeline_mod, "BackgroundWindows", Windows)
    single = alerts()
    assert sum(k == "anomaly" for k, *_ in single) == 3
    assert threaded == single
