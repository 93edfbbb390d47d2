"""Several sinks at once: the alerts file first, then the network sinks, each failing on its own."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from detector.config.sinks import SinksConfig
from detector.errors import ConfigError, SinkError
from detector.plugins import SINKS, resolve
from detector.sinks import Sink
from detector.sinks.delivery import SinkStats
from detector.values import Alert


class NetworkSink(Sink, Protocol):
    """A sink that queues and delivers in the background, with counted outcomes."""

    name: str
    stats: SinkStats


class Fanout:
    """Emit to every sink in order; one that fails is counted and logged, the others still get
    the alerts. `errors` counts failed writes by sink name (spoofwatch_sink_errors_total)."""

    def __init__(self, first: Sink, others: Sequence[NetworkSink] = ()) -> None:
        self.first = first
        self.others = list(others)
        self.errors: Counter[str] = Counter()

    @property
    def stats(self) -> list[SinkStats]:
        return [s.stats for s in self.others]

    def emit(self, alerts: Sequence[Alert]) -> None:
        failure: SinkError | None = None
        for sink in [self.first, *self.others]:
            try:
                sink.emit(alerts)
            except SinkError as exc:
                self.errors[getattr(sink, "name", "file")] += 1
                failure = exc
        if failure is not None:
            raise failure

    def reopen(self) -> None:
        reopen = getattr(self.first, "reopen", None)
        if reopen is not None:
            reopen()

    def close(self) -> None:
        for sink in self.others:
            sink.close()
        self.first.close()


def alerts_file(
    fmt: str, path: str, append: bool = False, observer: dict[str, Any] | None = None
) -> Sink:
    """The alerts file (or standard output) in its format: jsonl, ecs or text (the registry
    names each sink's module, imported only when it is used)."""
    sink: Sink
    if fmt == "ecs":
        sink = resolve(SINKS["ecs"])(path, append, observer)
    else:
        sink = resolve(SINKS[fmt if fmt == "text" else "jsonl"])(path, append)
    return sink


def network_sinks(
    config: SinksConfig,
    metrics_port: int | None = None,
    activity: Callable[[Alert], int] | None = None,
) -> list[NetworkSink]:
    """Open the configured network sinks. `activity` (run only) lets Alertmanager alerts be
    re-sent while their source keeps sending and resolved when it stops."""
    host = socket.gethostname()
    sinks: list[NetworkSink] = []
    try:
        if config.alertmanager is not None:
            am = config.alertmanager
            collector = am.collector or host
            url = am.generator_url or (
                f"http://{host}:{metrics_port}/metrics" if metrics_port else ""
            )
            sinks.append(resolve(SINKS["alertmanager"])(am, collector, url, activity))
        if config.syslog is not None:
            sl = config.syslog
            sinks.append(resolve(SINKS["syslog"])(sl, sl.hostname or host))
    except OSError as exc:  # a CA, certificate or key that will not load (ssl.SSLError too)
        for sink in sinks:
            sink.close()
        what = "alertmanager" if not sinks and config.alertmanager else "syslog"
        raise ConfigError(f"sinks.{what}: {getattr(exc, 'strerror', None) or exc}") from exc
    return sinks
