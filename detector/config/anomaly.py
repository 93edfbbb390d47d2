"""The [anomaly] section: the behaviour model that scores windows, and the score that alerts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detector.config import checks as v
from detector.errors import ConfigError

CHECKS: dict[str, v.Check] = {
    "model": v.string,
    "window_seconds": v.number(1, 3600),
    "threshold": v.number(0.01, 1e6),
}


@dataclass(frozen=True, slots=True)
class AnomalyConfig:
    """Setting `model` turns the anomaly detector on; the others default to the model's own."""

    model: str
    window_seconds: float | None = None  # must equal the model's: it was trained on them
    threshold: float | None = None


def parse(got: dict[str, Any], base: Path | None) -> AnomalyConfig | None:
    if not got:
        return None
    model = got.get("model", "")
    if not model:
        raise ConfigError(
            "anomaly.model: the behaviour model file is required"
            " (make one with `spoofwatch model train`)"
        )
    if base is not None and not Path(model).is_absolute():
        model = str(base / model)
    return AnomalyConfig(model, got.get("window_seconds"), got.get("threshold"))
