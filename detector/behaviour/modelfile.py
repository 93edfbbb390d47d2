"""The behaviour model file: NumPy arrays and a JSON header in one .npz, never a pickle.

Loading reads plain arrays (`allow_pickle=False`), checks the header's format and feature list
against this build, and checks that the arrays fit together and are finite: a model file is data
that cannot run code or make scoring read out of bounds. A file from another format version or
another feature list is refused with a line that says so and how to make a new one.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.behaviour.features import FEATURES
from detector.behaviour.knn import Knn
from detector.errors import ConfigError

MAGIC = "spoofwatch-behaviour-model"
FORMAT = 1
ALL_SEGMENTS = "*"  # the baseline of every segment together, for segments training never saw
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Baseline:
    """A segment's training windows, per feature in natural units: median and 99th percentile."""

    median: F64
    p99: F64
    windows: int


@dataclass(frozen=True, slots=True)
class Model:
    """Training windows to measure against, the alert threshold, baselines per segment and
    the peers seen."""

    knn: Knn
    window_seconds: float
    threshold: float  # alert on a window whose score is at least this
    baselines: dict[str, Baseline]
    peer_segments: tuple[str, ...]  # the segment names the peers' indices point to
    peers: npt.NDArray[np.uint64]  # (n, 3): segment index, destination high word, low word
    info: dict[str, Any] = field(default_factory=dict)  # how it was trained, for people

    def baseline(self, segment: str) -> Baseline:
        return self.baselines.get(segment) or self.baselines[ALL_SEGMENTS]


def save(model: Model, path: str) -> None:
    header = {
        "format": MAGIC,
        "version": FORMAT,
        "features": list(FEATURES),
        "window_seconds": model.window_seconds,
        "threshold": model.threshold,
        "k": model.knn.k,
        "segments": list(model.baselines),
        "windows": [b.windows for b in model.baselines.values()],
        "peer_segments": list(model.peer_segments),
        "info": model.info,
    }
    arrays: dict[str, npt.NDArray[Any]] = {
        "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
        "median": np.array([b.median for b in model.baselines.values()]),
        "p99": np.array([b.p99 for b in model.baselines.values()]),
        "peers": model.peers,
        **{f"knn_{name}": a for name, a in model.knn.arrays().items()},
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    Path(path).write_bytes(buffer.getvalue())


def load(path: str) -> Model:
    """Read a model file; ConfigError with one line for anything that is not a usable model."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except OSError as exc:
        raise ConfigError(f"cannot read the model {path}: {exc.strerror or exc}") from None
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ConfigError(f"{path} is not a spoofwatch behaviour model ({exc})") from None
    try:
        header = json.loads(bytes(arrays["header"]).decode())
        if not isinstance(header, dict) or header.get("format") != MAGIC:
            raise ValueError("no spoofwatch model header")
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a spoofwatch behaviour model ({exc})") from None
    version = header.get("version")
    if version != FORMAT:
        raise ConfigError(
            f"the model {path} has format version {version}; this spoofwatch reads version"
            f" {FORMAT}: train a new one with `spoofwatch model train`"
        )
    if header.get("features") != list(FEATURES):
        raise ConfigError(
            f"the model {path} was trained on other features ({', '.join(header['features'])});"
            " this spoofwatch scores "
            f"{', '.join(FEATURES)}: train a new one with `spoofwatch model train`"
        )
    try:
        return _model(header, arrays)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ConfigError(f"the model {path} is damaged ({exc})") from None


def _model(header: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Model:
    knn = Knn.from_arrays(
        {name[4:]: a for name, a in arrays.items() if name.startswith("knn_")}, int(header["k"])
    )
    if knn.points.shape[1] != len(FEATURES):
        raise ValueError("the training windows do not have the model's features")
    segments = [str(s) for s in header["segments"]]
    median, p99 = arrays["median"].astype(np.float64), arrays["p99"].astype(np.float64)
    shape = (len(segments), len(FEATURES))
    if median.shape != shape or p99.shape != shape or ALL_SEGMENTS not in segments:
        raise ValueError("the baselines do not match the feature list")
    windows = [int(w) for w in header["windows"]]
    peers = arrays["peers"].astype(np.uint64)
    peer_segments = tuple(str(s) for s in header["peer_segments"])
    if peers.ndim != 2 or peers.shape[1] != 3:
        raise ValueError("the peer list is not (segment, high, low) rows")
    if len(peers) and peers[:, 0].max() >= len(peer_segments):
        raise ValueError("the peer list names a segment it does not have")
    threshold = float(header["threshold"])
    window = float(header["window_seconds"])
    if not (0 < threshold <= 1e6 and 0 < window <= 86400):
        raise ValueError("threshold or window out of range")
    return Model(
        knn=knn,
        window_seconds=window,
        threshold=threshold,
        baselines={s: Baseline(median[i], p99[i], windows[i]) for i, s in enumerate(segments)},
        peer_segments=peer_segments,
        peers=peers,
        info=dict(header.get("info") or {}),
    )
