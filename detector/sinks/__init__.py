"""Where alerts go: JSON lines to a file or standard output (Alertmanager and syslog join later)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from detector.model import Alert


class Sink(Protocol):
    """A destination for alerts."""

    def emit(self, alerts: Sequence[Alert]) -> None: ...

    def close(self) -> None: ...
