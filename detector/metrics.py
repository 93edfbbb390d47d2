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
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from detector import __version__
from detector.sinks.delivery import DELIVERED, DROPPED, FAILED, SinkStats

if TYPE_CHECKING:
    from detector.pipeline import Pipeline

# name: (type, help, labels). The Grafana dashboard and the alert rules may use only these.
CATALOGUE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "spoofwatch_build_info": (
        "gauge",
        "Version of spoofwatch and of Python.",
        ("version", "python"),
    ),
    "spoofwatch_packets_total": ("counter", "Packets read from a source.", ("source",)),
    "spoofwatch_bytes_total": (
        "counter",
        "Bytes (original length) read from a source.",
        ("source",),
    ),
    "spoofwatch_frames_total": ("counter", "Inner frames decoded, by encapsulation.", ("encap",)),
    "spoofwatch_packets_cut_total": (
        "counter",
        "Packets the capture cut short of their length (snap length); decoded as far as they go.",
        ("source",),
    ),
    "spoofwatch_decode_errors_total": (
        "counter",
        "Malformed packets, by layer and reason.",
        ("layer", "reason"),
    ),
    "spoofwatch_decode_skipped_total": (
        "counter",
        "Packets deliberately not decoded, by layer and reason.",
        ("layer", "reason"),
    ),
    "spoofwatch_capture_drops_total": (
        "counter",
        "Packets lost before decoding: kernel ring or our own queue.",
        ("source", "stage"),
    ),
    "spoofwatch_frames_inspected_total": ("counter", "Frames checked against bindings.", ()),
    "spoofwatch_frames_ignored_total": (
        "counter",
        "Frames not checked (underlay, OAM, no MAC), by reason.",
        ("reason",),
    ),
    "spoofwatch_bindings_realized_total": ("counter", "Bindings realized, by method.", ("method",)),
    "spoofwatch_bindings_discovered_total": (
        "counter",
        "Addresses discovered but not realized (limit or duplicate).",
        ("method",),
    ),
    "spoofwatch_bindings_dropped_total": (
        "counter",
        "What the table did not keep to stay bounded, by reason.",
        ("reason",),
    ),
    "spoofwatch_bindings": ("gauge", "Realized bindings in the table now.", ()),
    "spoofwatch_ports": ("gauge", "Ports (segment, MAC) in the table now.", ()),
    "spoofwatch_ports_refused_total": ("counter", "Ports not tracked: the table was full.", ()),
    "spoofwatch_alerts_total": ("counter", "Alerts emitted, by kind.", ("kind",)),
    "spoofwatch_detections_total": (
        "counter",
        "Packets behind each kind of alert (deduplicated or not).",
        ("kind",),
    ),
    "spoofwatch_unbound_source_packets_total": (
        "counter",
        "Packets sent from an address not bound to their port.",
        (),
    ),
    "spoofwatch_last_packet_timestamp_seconds": (
        "gauge",
        "Capture time of the newest packet seen (staleness).",
        (),
    ),
    "spoofwatch_processing_latency_seconds": (
        "histogram",
        "Time from a batch's arrival to its alerts being written.",
        (),
    ),
    "spoofwatch_sink_errors_total": ("counter", "Alert writes that failed, by sink.", ("sink",)),
    "spoofwatch_sink_alerts_total": (
        "counter",
        "Alert deliveries by network sink and outcome (delivered; failed: queued and retried;"
        " dropped: the queue was full, the receiver refused it, or the process stopped).",
        ("sink", "outcome"),
    ),
    "spoofwatch_sink_queue_length": (
        "gauge",
        "Alerts waiting in a network sink's bounded queue (Alertmanager: active alerts kept).",
        ("sink",),
    ),
    "spoofwatch_ipfix_records_total": ("counter", "IPFIX / NetFlow v9 data records decoded.", ()),
    "spoofwatch_ipfix_templates_total": ("counter", "Templates received (or refreshed).", ()),
    "spoofwatch_ipfix_template_missing_total": (
        "counter",
        "Data sets that arrived before their template (buffered, bounded).",
        (),
    ),
    "spoofwatch_ipfix_lost_records_total": (
        "counter",
        "Records an exporter sent that never arrived (sequence gaps).",
        (),
    ),
    "spoofwatch_ipfix_errors_total": (
        "counter",
        "Malformed IPFIX / NetFlow v9 content, by reason.",
        ("reason",),
    ),
    "spoofwatch_nsx_last_success_timestamp_seconds": (
        "gauge",
        "When the last NSX pull succeeded (0: none yet); the table holds NSX's view of then.",
        (),
    ),
    "spoofwatch_nsx_requests_total": (
        "counter",
        "Requests to the NSX manager, by HTTP status (error: no answer).",
        ("status",),
    ),
    "spoofwatch_nsx_pull_failures_total": ("counter", "NSX pulls that failed.", ()),
    "spoofwatch_nsx_pull_duration_seconds": ("gauge", "How long the last NSX pull took.", ()),
    "spoofwatch_nsx_ports_imported": ("gauge", "NSX ports imported by the last pull.", ()),
    "spoofwatch_nsx_bindings_imported": (
        "gauge",
        "Realized bindings imported by the last NSX pull.",
        (),
    ),
    "spoofwatch_nsx_unprotected_ports": (
        "gauge",
        "NSX ports whose effective SpoofGuard profile does not enforce address bindings.",
        (),
    ),
    "spoofwatch_timeline_rows_total": ("counter", "Timeline rows written ([timeline]).", ()),
    "spoofwatch_timeline_late_packets_total": (
        "counter",
        "Packets that came after their timeline bucket was written (a second row).",
        (),
    ),
    "spoofwatch_timeline_early_writes_total": (
        "counter",
        "Times the open timeline rows hit their cap and were written early.",
        (),
    ),
    "spoofwatch_timeline_files_deleted_total": (
        "counter",
        "Timeline files deleted to keep the directory under timeline.max_mb.",
        (),
    ),
    "spoofwatch_anomaly_windows_scored_total": (
        "counter",
        "Port windows the behaviour model scored ([anomaly]); alerts are by kind anomaly.",
        (),
    ),
    "spoofwatch_anomaly_early_closes_total": (
        "counter",
        "Times the open behaviour windows hit their cap (a flood) and were closed early.",
        (),
    ),
}
NSX_GAUGES = {
    "last_success": "spoofwatch_nsx_last_success_timestamp_seconds",
    "pull_seconds": "spoofwatch_nsx_pull_duration_seconds",
    "ports": "spoofwatch_nsx_ports_imported",
    "bindings": "spoofwatch_nsx_bindings_imported",
    "unprotected": "spoofwatch_nsx_unprotected_ports",
}
IPFIX_COUNTERS = {
    "records": "spoofwatch_ipfix_records_total",
    "templates": "spoofwatch_ipfix_templates_total",
    "template-missing": "spoofwatch_ipfix_template_missing_total",
    "lost-records": "spoofwatch_ipfix_lost_records_total",
}


@dataclass(slots=True)
class RunCounters:
    """Counters the run loop keeps beside the pipeline's (drops, staleness, sink errors)."""

    drops: dict[tuple[str, str], int] = field(default_factory=dict)
    last_packet_ns: int = 0
    sink_errors: dict[str, int] = field(default_factory=dict)
    nsx: dict[str, float] | None = None  # NSX_GAUGES keys and `failures`, when [nsx] is set
    nsx_requests: dict[str, int] = field(default_factory=dict)
    timeline_deleted: int | None = None  # files pruned, when [timeline] is set
    sinks: list[SinkStats] = field(default_factory=list)  # the network sinks' outcomes


Family = CounterMetricFamily | GaugeMetricFamily


def _family(name: str) -> Family:
    kind, doc, labels = CATALOGUE[name]
    base = name.removesuffix("_total") if kind == "counter" else name
    if kind == "counter":
        return CounterMetricFamily(base, doc, labels=list(labels))
    return GaugeMetricFamily(base, doc, labels=list(labels))


class PipelineCollector(Collector):
    """Reads the pipeline's counters when Prometheus scrapes (copies are taken under the GIL)."""

    def __init__(self, pipeline: Callable[[], Pipeline], source: str, run: RunCounters) -> None:
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
        yield from fams.values()


def registry(
    pipeline: Callable[[], Pipeline], source: str, run: RunCounters
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
