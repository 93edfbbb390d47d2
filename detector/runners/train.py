"""Training: benign captures into windows, kept as the norm, with baselines and peers."""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.behaviour import knn as knn_mod
from detector.behaviour.features import FEATURES, FLOORS, History, model_space, natural, windows
from detector.behaviour.modelfile import ALL_SEGMENTS, Baseline, Model
from detector.config.settings import Config
from detector.errors import ConfigError
from detector.fast.windows.path import Windows
from detector.runners.pipeline import Pipeline, Progress
from detector.values import Alert, WindowRows

NEIGHBOURS = 5  # k: a window is measured against its 5 nearest training windows
MAX_WINDOWS = 20_000  # training windows kept in the model (a seeded sample of more)
SEED = 20261128
MIN_WINDOWS = 50  # fewer training windows than this make no baseline
MARGIN = 1.5  # the default threshold: the highest training score times this


class _Discard:
    """Training judges nothing: the binding alerts of the training captures go nowhere."""

    def emit(self, alerts: Sequence[Alert]) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass(slots=True)
class Windowed:
    """Every closed window of some captures: their ports, starts and features."""

    segment: list[str] = field(default_factory=list)
    mac: list[npt.NDArray[np.uint64]] = field(default_factory=list)
    start_ns: list[npt.NDArray[np.int64]] = field(default_factory=list)
    values: list[npt.NDArray[np.float64]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    history: History = field(default_factory=History)

    def take(self, rows: WindowRows) -> list[Alert]:
        self.segment.extend(rows.segment)
        self.mac.append(rows.mac)
        self.start_ns.append(rows.start_ns)
        for part in windows(rows):
            self.values.append(natural(rows, part, self.history))
            self.history.update(rows, part, np.ones(part.stop - part.start, np.bool_))
        return []

    def matrix(self) -> npt.NDArray[np.float64]:
        return np.vstack(self.values) if self.values else np.zeros((0, len(FEATURES)))


def windows_of(
    config: Config,
    paths: Sequence[str],
    window_seconds: float,
    learn: bool,
    progress: Progress | None = None,
    peers: tuple[Sequence[str], npt.NDArray[np.uint64]] | None = None,
) -> tuple[Windowed, Windows]:
    """Replay captures through the binding engine (so frames are attributed to ports as in
    detection) and collect the closed windows. `learn`: every destination becomes a known peer
    (training); otherwise only `peers` are."""
    got = Windowed()
    windows = Windows(got.take, window_seconds, peers=peers, learn_peers=learn)
    pipeline = Pipeline(dataclasses.replace(config, anomaly=None), _Discard(), windows=windows)
    report = pipeline.replay(paths, progress)
    got.failures = report.failures
    return got, windows


def fit(
    config: Config,
    paths: Sequence[str],
    window_seconds: float = 10.0,
    progress: Progress | None = None,
    report: Callable[[Windowed, npt.NDArray[np.float64]], None] | None = None,
) -> Model:
    """A model of the behaviour in benign captures."""
    got, windows = windows_of(config, paths, window_seconds, True, progress)
    if got.failures:
        raise ConfigError("; ".join(got.failures))
    values = got.matrix()
    if len(values) < MIN_WINDOWS:
        raise ConfigError(
            f"the training captures hold {len(values)} port windows of {window_seconds:g} s;"
            f" a baseline needs at least {MIN_WINDOWS}: give more (or longer) benign captures"
        )
    x = model_space(values)
    if len(x) > MAX_WINDOWS:
        x = x[np.sort(np.random.default_rng(SEED).choice(len(x), MAX_WINDOWS, replace=False))]
    knn, own = knn_mod.fit(x, FLOORS, NEIGHBOURS)
    if report is not None:
        report(got, knn.score(model_space(values)))
    segments = np.array(got.segment, dtype=object)
    baselines = {ALL_SEGMENTS: _baseline(values)}
    for name in sorted(set(got.segment)):
        mine = values[segments == name]
        if len(mine) >= MIN_WINDOWS:
            baselines[name] = _baseline(mine)
    names, peers = windows.peer_list()
    import sklearn

    info: dict[str, Any] = {
        "trained": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "captures": [str(p) for p in paths],
        "windows": len(values),
        "ports": len(set(zip(got.segment, np.concatenate(got.mac).tolist(), strict=True))),
        "neighbours": knn.k,
        "seed": SEED,
        "highest_training_score": round(float(own.max()), 4),
        "scikit_learn": sklearn.__version__,
        "python": platform.python_version(),
    }
    threshold = float(own.max()) * MARGIN
    return Model(knn, window_seconds, threshold, baselines, tuple(names), peers, info)


def _baseline(values: npt.NDArray[np.float64]) -> Baseline:
    return Baseline(np.median(values, axis=0), np.percentile(values, 99, axis=0), len(values))
