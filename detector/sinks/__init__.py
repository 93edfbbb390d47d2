"""Where alerts go: a file (JSON lines, ECS, text) and network sinks (Alertmanager, syslog)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from detector.values import Alert


class Sink(Protocol):
    """A destination for alerts."""

    def emit(self, alerts: Sequence[Alert]) -> None: ...

    def close(self) -> None: ...
