"""The one catalogue of Prometheus metrics, read from the pipeline's counters at scrape time.

Names follow Prometheus conventions: prefix `spoofwatch_`, counters end in `_total`, base units.
Labels are bounded (source, encap, layer, reason, kind, method, stage); never an IP, MAC or VNI —
those belong in alerts. Counters live in plain Python objects on the hot path and a custom
collector turns them into metric families when Prometheus scrapes.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detector import __version__
from detector.metrics.catalogue import CATALOGUE, IPFIX_COUNTERS, NSX_GAUGES, STATE_METRICS
from detector.sinks.delivery import DELIVERED, DROPPED, FAILED, SinkStats

if TYPE_CHECKING:
    from detector.bindings.fleet import FleetStore
    from detector.bindings.table import BindingTable
    from detector.decoders.chain import Decoder
    from detector.detectors.anomaly import Anomaly
    from detector.detectors.engine import Engine
    from detector.fast.timeline.path import Timeline
    from detector.fast.windows.path import Windows
    from detector.values import DecodeStats


class Counted(Protocol):
    """What a scrape reads: the counters of a run's stages (the runners' Pipeline has them)."""

    @property
    def stats(self) -> DecodeStats: ...
    @property
    def decoder(self) -> Decoder: ...
    @property
    def table(self) -> BindingTable: ...
    @property
    def engine(self) -> Engine: ...
    @property
    def timeline(self) -> Timeline | None: ...
    @property
    def anomaly(self) -> Anomaly | None: ...
    @property
    def windows(self) -> Windows | None: ...


@dataclass(slots=True)
class RunCounters:
    """Counters the run loop keeps beside the pipeline's (drops, staleness, sink errors)."""

    drops: dict[tuple[str, str], int] = field(default_factory=dict)
    last_packet_ns: int = 0
    sink_errors: dict[str, int] = field(default_factory=dict)
    nsx: dict[str, float] | None = None  # NSX_GAUGES keys and `failures`, when [nsx] is set
    nsx_requests: dict[str, int] = field(default_factory=dict)
    nsx_segments: dict[str, int] = field(default_factory=dict)  # by how their VNI was found
    timeline_deleted: int | None = None  # files pruned, when [timeline] is set
    sinks: list[SinkStats] = field(default_factory=list)  # the network sinks' outcomes
    state: FleetStore | None = None  # the shared binding store, when [state] url is set


Family = CounterMetricFamily | GaugeMetricFamily


def _family(name: str) -> Family:
    kind, doc, labels = CATALOGUE[name]
    base = name.removesuffix("_total") if kind == "counter" else name
    if kind == "counter":
        return CounterMetricFamily(base, doc, labels=list(labels))
    return GaugeMetricFamily(base, doc, labels=list(labels))


class PipelineCollector(Collector):
    """Reads the pipeline's counters when Prometheus scrapes (copies are taken under the GIL)."""

    def __init__(self, pipeline: Callable[[], Counted], source: str, run: RunCounters) -> None:
        self.pipeline = pipeline
        self.source = source
        self.run = run

    def collect(self) -> Iterator[Metric]:
        p = self.pipeline()
        stats, engine, table = p.stats, p.engine.stats, p.table
        fams = {name: _family(name) for name, spec in CATALOGUE.items() if spec[0] != "histogram"}
        fams["spoofwatch_build_info"].add_metric([__version__, platform.python_version()], 1)
        fams["spoofwatch_packets_total"].add_metric([self.source], stats.packets)
        fams["spoofwatch_bytes_total"].add_metric([self.source], stats.bytes)
        fams["spoofwatch_packets_cut_total"].add_metric([self.source], stats.cut)
        for encap, n in dict(stats.frames).items():
            fams["spoofwatch_frames_total"].add_metric([encap], n)
        for (layer, reason), n in dict(stats.errors).items():
            fams["spoofwatch_decode_errors_total"].add_metric([layer, reason], n)
        for (layer, reason), n in dict(stats.skipped).items():
            fams["spoofwatch_decode_skipped_total"].add_metric([layer, reason], n)
        for (source, stage), n in dict(self.run.drops).items():
            fams["spoofwatch_capture_drops_total"].add_metric([source, stage], n)
        frames = dict(engine.frames)
        fams["spoofwatch_frames_inspected_total"].add_metric([], frames.get("inspected", 0))
        for key, n in frames.items():
            if key.startswith("ignored:"):
                fams["spoofwatch_frames_ignored_total"].add_metric([key[8:]], n)
        tstats = dict(table.stats)
        for key, n in tstats.items():
            what, _, method = key.partition(":")
            if what in ("realized", "discovered"):
                fams[f"spoofwatch_bindings_{what}_total"].add_metric([method], n)
        for reason, n in (
            ("discovered-cap", tstats.get("discovered_dropped", 0)),
            ("evidence-source-cap", table.codec.sources_dropped),
            ("endpoint-not-an-address", tstats.get("endpoint_not_an_address", 0)),
        ):
            fams["spoofwatch_bindings_dropped_total"].add_metric([reason], n)
        fams["spoofwatch_bindings"].add_metric([], table.binding_count())
        fams["spoofwatch_ports"].add_metric([], len(table))
        fams["spoofwatch_ports_refused_total"].add_metric([], tstats.get("ports_refused", 0))
        for kind, n in dict(engine.alerts).items():
            fams["spoofwatch_alerts_total"].add_metric([kind], n)
        findings = dict(engine.findings)
        for kind, n in findings.items():
            fams["spoofwatch_detections_total"].add_metric([kind], n)
        fams["spoofwatch_unbound_source_packets_total"].add_metric(
            [], findings.get("unbound-source", 0)
        )
        fams["spoofwatch_last_packet_timestamp_seconds"].add_metric(
            [], self.run.last_packet_ns / 1e9
        )
        for sink, n in dict(self.run.sink_errors).items():
            fams["spoofwatch_sink_errors_total"].add_metric([sink], n)
        for s in self.run.sinks:
            for outcome in (DELIVERED, FAILED, DROPPED):
                fams["spoofwatch_sink_alerts_total"].add_metric(
                    [s.name, outcome], s.outcomes[outcome]
                )
            fams["spoofwatch_sink_queue_length"].add_metric([s.name], s.queued)
        ipfix = dict(p.decoder.ipfix.stats)
        for key, metric in IPFIX_COUNTERS.items():
            fams[metric].add_metric([], ipfix.get(key, 0))
        for key, n in ipfix.items():
            if key.startswith("error:"):
                fams["spoofwatch_ipfix_errors_total"].add_metric([key[6:]], n)
        if self.run.nsx is not None:
            nsx = dict(self.run.nsx)
            for key, metric in NSX_GAUGES.items():
                fams[metric].add_metric([], nsx.get(key, 0))
            fams["spoofwatch_nsx_pull_failures_total"].add_metric([], nsx.get("failures", 0))
            for status, n in dict(self.run.nsx_requests).items():
                fams["spoofwatch_nsx_requests_total"].add_metric([status], n)
            for method, n in dict(self.run.nsx_segments).items():
                fams["spoofwatch_nsx_segments"].add_metric([method], n)
        if p.timeline is not None:
            tl = p.timeline
            fams["spoofwatch_timeline_rows_total"].add_metric([], tl.rows_out)
            fams["spoofwatch_timeline_late_packets_total"].add_metric([], tl.late)
            fams["spoofwatch_timeline_early_writes_total"].add_metric([], tl.splits)
            deleted = self.run.timeline_deleted or 0
            fams["spoofwatch_timeline_files_deleted_total"].add_metric([], deleted)
        if p.anomaly is not None and p.windows is not None:
            fams["spoofwatch_anomaly_windows_scored_total"].add_metric([], p.anomaly.scored)
            fams["spoofwatch_anomaly_early_closes_total"].add_metric([], p.windows.splits)
        if self.run.state is not None:
            fleet = self.run.state
            held = dict(fleet.stats)
            fams["spoofwatch_state_up"].add_metric([], int(fleet.up))
            fams["spoofwatch_state_claims_queued"].add_metric([], fleet.queued())
            for key, metric in STATE_METRICS.items():
                fams[metric].add_metric([], held.get(key, 0))
            for outcome in ("realized", "known", "limit", "conflict"):
                n = held.get(f"claims:{outcome}", 0)
                fams["spoofwatch_state_claims_total"].add_metric([outcome], n)
        yield from fams.values()


def registry(
    pipeline: Callable[[], Counted], source: str, run: RunCounters
) -> tuple[CollectorRegistry, Histogram]:
    """A registry of its own (no process-wide default state) and the latency histogram."""
    reg = CollectorRegistry(auto_describe=True)
    reg.register(PipelineCollector(pipeline, source, run))
    latency = Histogram(
        "spoofwatch_processing_latency_seconds",
        CATALOGUE["spoofwatch_processing_latency_seconds"][1],
        buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        registry=reg,
    )
    return reg, latency
