"""`spoofwatch run`: continuous monitoring of a live mirror, with /metrics and persisted state.

SIGTERM and SIGINT drain the batch in flight, persist, and exit 0. SIGHUP reloads the
configuration; an invalid one is logged and the running one kept. Bindings are written to the
state file as they are realized, so `kill -9` loses none of them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import socket
import time
from types import FrameType
from typing import Any

from detector.bindings.fleet import FleetStore
from detector.bindings.store import BindingStore
from detector.config import settings as config_mod
from detector.detectors.engine import Engine
from detector.errors import ConfigError, SinkError
from detector.fast.packets.path import BatchPath
from detector.fast.timeline.path import Rows
from detector.fast.timeline.thread import BackgroundTimeline
from detector.logs import setup_logging
from detector.metrics.exposition import RunCounters, registry
from detector.nsx import realized, snapshot
from detector.nsx.poller import Poller
from detector.plugins import SOURCES, resolve
from detector.runners.fleetsync import FleetSync
from detector.runners.pipeline import Pipeline
from detector.sinks.fanout import Fanout, alerts_file, network_sinks
from detector.sinks.timeline_files import RotatingTimeline
from detector.sources.capture import CaptureInfo
from detector.sources.collect import LiveSource
from detector.values import Alert

log = logging.getLogger("spoofwatch")
FLUSH_SECONDS = 0.2


def open_source(run: config_mod.RunConfig) -> LiveSource:
    """The source `[source] kind` names, from the registry."""
    source: LiveSource = resolve(SOURCES[run.source]).from_config(run)
    return source


class Daemon:
    """One source, one pipeline, one metrics endpoint, until a signal says stop."""

    def __init__(self, config_path: str, reset_state: bool = False) -> None:
        self.stopping = False
        self.reload_wanted = False
        signal.signal(signal.SIGTERM, self._stop)  # first: a stop during start-up is clean too
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hup)
        self.config_path = config_path
        self.config = config_mod.load(config_path)
        self.counters = RunCounters()
        run = self.config.run
        state = self.config.state
        self.store = BindingStore(state.path, reset=reset_state) if state.path else None
        self.fleet = FleetSync(FleetStore(state), self.store) if state.url else None
        observer: dict[str, Any] = {"hostname": socket.gethostname()}
        if run.source == "live":
            observer["ingress"] = {"interface": {"name": run.interface}}
        first = alerts_file(self.config.alerts_format, self.config.alerts_path, True, observer)
        others = network_sinks(self.config.sinks, run.metrics_listen[1], self._packets)
        self.sink = Fanout(first, others)
        self.counters.sinks = self.sink.stats
        self.counters.sink_errors = self.sink.errors
        self.timeline_files: RotatingTimeline | None = None
        timeline = None
        if self.config.timeline is not None:
            t = self.config.timeline
            self.timeline_files = RotatingTimeline(
                t.directory, t.bucket_seconds, t.rotate_seconds, t.max_mb << 20, self._meta
            )
            timeline = BackgroundTimeline(self._timeline_rows, t.bucket_seconds)
            self.counters.timeline_deleted = 0
        self.idle_since = time.monotonic()
        self.pipeline = Pipeline(self.config, self.sink, timeline=timeline)
        if self.store is not None:
            restored = self.store.load_into(self.pipeline.table)
            log.info("restored %d bindings from %s", restored, state.path)
        if self.fleet is not None:
            self.counters.state = self.fleet.store
            n = self.fleet.attach(self.pipeline.table)
            log.info("%d bindings from the shared store %s", n, self.fleet.store.where)
        elif self.store is None:
            log.warning("no state.path: learned bindings will be lost on restart")
        self.poller: Poller | None = None
        if self.config.nsx is not None:
            self.counters.nsx = {"failures": 0}
            self.poller = Poller(self.config.nsx)
            kept = self.store.load_snapshot() if self.store is not None else None
            if kept is not None:
                self.apply_nsx(snapshot.check(json.loads(kept), f"state file {state.path}"))
                log.info("restored the NSX snapshot of %s", self.nsx_pulled_at)
        self.source = open_source(run)

    def _packets(self, alert: Alert) -> int:
        return self.pipeline.engine.packets(alert)  # the engine in force (SIGHUP replaces it)

    def serve_metrics(self) -> None:
        from prometheus_client import start_http_server

        run = self.config.run
        reg, self.latency = registry(lambda: self.pipeline, self.source.name, self.counters)
        host, port = run.metrics_listen
        cert, key = (run.tls_cert or None), (run.tls_key or None)
        self.server, _ = start_http_server(port, host, registry=reg, certfile=cert, keyfile=key)
        scheme = "https" if cert else "http"
        log.info("metrics on %s://%s:%d/metrics", scheme, host, self.server.server_port)

    def run(self) -> int:
        self.pipeline.batches.warm()
        self.serve_metrics()
        if self.poller is not None:
            self.poller.start()
        log.info("watching %s", self.source.name)
        try:
            while not self.stopping:
                if self.reload_wanted:
                    self.reload()
                self.step()
        finally:
            self.close()
        log.info(
            "stopped; %d packets, %d alerts",
            self.pipeline.stats.packets,
            sum(self.pipeline.engine.stats.alerts.values()),
        )
        return 0

    def step(self) -> None:
        """Read one batch (at most FLUSH_SECONDS of traffic), detect, write its alerts."""
        if self.poller is not None:
            self.take_nsx(self.poller)
        if self.fleet is not None:
            self._emit(self.fleet.take(self.pipeline.engine))
        batch = self.source.next_batch(FLUSH_SECONDS)
        for stage, n in self.source.drops().items():
            self.counters.drops[(self.source.name, stage)] = n
        if batch is None:
            self._timeline_idle()
            self._windows_idle()
            return
        self.idle_since = time.monotonic()
        started = time.perf_counter()
        self._emit(self.pipeline.batches.process(batch))
        self.counters.last_packet_ns = int(batch.ts_ns[-1])
        self.latency.observe(time.perf_counter() - started)

    def _timeline_rows(self, rows: Rows) -> None:
        assert self.timeline_files is not None and self.counters.timeline_deleted is not None
        try:
            self.timeline_files.write(rows)
        except SinkError as exc:
            self.counters.sink_errors["timeline"] = self.counters.sink_errors.get("timeline", 0) + 1
            log.error("%s", exc)
        self.counters.timeline_deleted = self.timeline_files.deleted

    def _meta(self) -> dict[str, Any]:
        info = CaptureInfo(self.source.name, records=self.pipeline.stats.packets)
        return self.pipeline.timeline_meta([info])

    def _timeline_idle(self) -> None:
        """A quiet mirror still closes its buckets: after (slack + 1) buckets without a packet,
        write out every open row, and let the files rotate."""
        tl = self.pipeline.timeline
        if tl is None or self.timeline_files is None:
            return
        idle = time.monotonic() - self.idle_since
        if tl.open_groups and idle > (tl.slack + 1) * tl.bucket_ns / 1e9:
            tl.close()
        self.timeline_files.tick()

    def _windows_idle(self) -> None:
        """A quiet mirror still closes its behaviour windows: those that ended a second (for
        frames still in the socket) before the clock."""
        windows = self.pipeline.windows
        if windows is not None:
            if windows.open_rows:
                windows.idle(time.time_ns() - 1_000_000_000)
            self._emit(windows.take_alerts())

    def _emit(self, alerts: list[Alert]) -> None:
        try:
            self.sink.emit(alerts)  # Fanout counts a failure by sink; the others still get them
        except SinkError as exc:
            log.error("%s", exc)

    def take_nsx(self, poller: Poller) -> None:
        """Apply a snapshot the poller pulled, keep it in the state file, update the metrics."""
        assert self.counters.nsx is not None
        self.counters.nsx["failures"] = poller.failures
        self.counters.nsx_requests = poller.requests()
        snap = poller.take()
        if snap is None:
            return
        self.apply_nsx(snap)
        self.counters.nsx["last_success"] = time.time()
        self.counters.nsx["pull_seconds"] = snap["cost"]["seconds"]
        if self.store is not None:
            self.store.save_snapshot(snapshot.dumps(snap))

    def apply_nsx(self, snap: dict[str, Any]) -> None:
        ports = list(realized.ports(snap))
        done = self.pipeline.import_nsx_ports(ports)
        assert self.counters.nsx is not None
        self.counters.nsx.update(
            ports=done.ports,
            bindings=done.bindings,
            unprotected=sum(not p.profiles.spoofguard for p in ports),
        )
        methods = dict(snapshot.vni_methods(snap))
        paths = (s.get("path", "") for s in snap.get("segments", []) if isinstance(s, dict))
        self.pipeline.wire.count(methods, paths)  # segments the wire maps count as it does
        self.counters.nsx_segments = methods
        self.nsx_pulled_at = str(snap.get("pulled_at", "?"))
        log.info(
            "NSX %s as of %s: %d ports, %d realized bindings, %d ports released",
            snap.get("manager"),
            snap.get("pulled_at"),
            done.ports,
            done.bindings,
            done.released,
        )

    def reload(self) -> None:
        """Apply a new configuration, keeping the binding table; keep the old one on error."""
        self.reload_wanted = False
        try:
            new = config_mod.load(self.config_path)
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration: %s", exc)
            return
        table = self.pipeline.table
        table.policy = new.policy
        engine = Engine(table, new.trust, new.engine)
        old = self.pipeline.engine
        engine.tallies, engine.stats = old.tallies, old.stats  # no re-alerts, no counter resets
        self.pipeline.engine = engine
        self.pipeline.decoder.config = new.decode
        p = self.pipeline
        p.batches = BatchPath(p.decoder, engine, p.timeline, p.windows)
        if dataclasses.replace(new.run, log_level="", log_format="") != dataclasses.replace(
            self.config.run, log_level="", log_format=""
        ) or (new.state != self.config.state):
            log.warning("source, metrics and state settings change only on restart")
        if (new.sinks, new.alerts_path, new.alerts_format) != (
            self.config.sinks,
            self.config.alerts_path,
            self.config.alerts_format,
        ):
            log.warning("[alerts] and [sinks.*] settings change only on restart")
        if new.anomaly != self.config.anomaly:
            log.warning("[anomaly] settings change only on restart")
        setup_logging(new.run.log_format, new.run.log_level)
        try:
            self.sink.reopen()  # logrotate: SIGHUP after moving the alerts file away
        except SinkError as exc:
            log.error("%s", exc)
        self.config = new
        log.info("configuration reloaded from %s", self.config_path)

    def close(self) -> None:
        if self.poller is not None:
            self.poller.close()
        self.source.close()
        if self.pipeline.windows is not None:  # the open windows are judged before the end
            self.pipeline.windows.close()
            self._emit(self.pipeline.windows.take_alerts())
        self.sink.close()
        if self.pipeline.timeline is not None and self.timeline_files is not None:
            self.pipeline.timeline.close()
            try:
                self.timeline_files.close()
            except SinkError as exc:
                log.error("%s", exc)
        if self.fleet is not None:
            self.fleet.store.close()
            self._emit(self.fleet.take(self.pipeline.engine))
        if self.store is not None:
            self.store.close()
        if hasattr(self, "server"):
            self.server.shutdown()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: draining and stopping", signum)
        self.stopping = True

    def _hup(self, signum: int, frame: FrameType | None) -> None:
        self.reload_wanted = True
