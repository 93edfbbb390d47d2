"""The one catalogue of Prometheus metrics: name, type, help and labels; `metrics` fills them.

Names follow Prometheus conventions: prefix `spoofwatch_`, counters end in `_total`, base units.
Labels are bounded; never an IP, MAC or VNI (those belong in alerts).
"""

from __future__ import annotations

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
    "spoofwatch_nsx_segments": (
        "gauge",
        "NSX segments of the last pull by how their VNI was found: intent (overlay_id), realized"
        " (the realized logical switch), wire (their MACs seen on it), or none (a VLAN"
        " segment, or unmapped).",
        ("vni_method",),
    ),
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
    "spoofwatch_state_up": (
        "gauge",
        "1 while the shared binding store ([state] url) answers, 0 while claims wait for it.",
        (),
    ),
    "spoofwatch_state_outages_total": (
        "counter",
        "Times the shared binding store stopped answering.",
        (),
    ),
    "spoofwatch_state_claims_total": (
        "counter",
        "Claims the shared binding store settled, by outcome (realized, known, limit, conflict).",
        ("outcome",),
    ),
    "spoofwatch_state_claims_queued": (
        "gauge",
        "Claims waiting to be sent to the shared binding store (bounded by state.queue_max).",
        (),
    ),
    "spoofwatch_state_claims_dropped_total": (
        "counter",
        "Claims not queued (the queue was full); claimed again at the next complete sync.",
        (),
    ),
    "spoofwatch_state_remote_bindings_total": (
        "counter",
        "Bindings other collectors claimed, applied to this collector's table.",
        (),
    ),
    "spoofwatch_state_syncs_total": (
        "counter",
        "Re-reads of the shared binding store (complete after each connection, then recent).",
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
STATE_METRICS = {  # [state] url: the shared binding store, from FleetStore.stats
    "outages": "spoofwatch_state_outages_total",
    "dropped": "spoofwatch_state_claims_dropped_total",
    "adopted": "spoofwatch_state_remote_bindings_total",
    "syncs": "spoofwatch_state_syncs_total",
}
