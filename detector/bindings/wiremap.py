"""NSX segments without a VNI, mapped by the wire: the VNI on which their ports' MACs are seen.

Where neither the intent (`overlay_id`) nor the realized logical switch gives an overlay
segment's VNI (a read-only user refused those endpoints), its ports wait here by MAC. The first
frame from one of those MACs on a Geneve or VXLAN segment maps the whole NSX segment to that
VNI, and its ports are imported before the frame is judged, so the VM that changed its address
before spoofwatch started is caught on its first packet. A MAC of the same NSX segment later
seen on another VNI is conflicting evidence: the first mapping stands and the conflict is named.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable

from detector.bindings import nsx
from detector.bindings.table import BindingTable
from detector.nsx.realized import NsxPort
from detector.values import PortKey

log = logging.getLogger("spoofwatch")
OVERLAY = ("geneve:", "vxlan:")


class WireMap:
    """The unmapped segments' ports by MAC, and the segments the wire mapped so far."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[NsxPort]] = {}  # NSX segment path → its ports
        self.by_mac: dict[str, str] = {}  # MAC → NSX segment path
        self.mapped: dict[str, str] = {}  # NSX segment path → the wire's segment name
        self.conflicts: dict[str, set[str]] = {}  # NSX segment path → other wire segments seen
        self.counts: dict[str, int] = {}  # segments by VNI method (a metric's), kept current

    def prepare(self, ports: Iterable[NsxPort]) -> list[NsxPort]:
        """The ports of an import: those of segments mapped before get their wire name; the
        ports of overlay segments still without one wait here (VLAN segments have a name)."""
        out: list[NsxPort] = []
        self.waiting, self.by_mac = {}, {}
        for port in ports:
            if port.segment is None:
                for mac in port.macs:
                    self.by_mac[mac] = port.segment_path
                if port.segment_path in self.mapped:
                    port = dataclasses.replace(port, segment=self.mapped[port.segment_path])
                else:
                    self.waiting.setdefault(port.segment_path, []).append(port)
            out.append(port)
        return out

    def count(self, methods: dict[str, int], paths: Iterable[str]) -> None:
        """Keep `methods` (segments by VNI method, from the snapshot) current: the segments
        of `paths` the wire mapped count as `wire`, not `none`, now and as mappings come."""
        self.counts = methods
        for path in paths:
            if path in self.mapped:
                self._counted()

    def _counted(self) -> None:
        self.counts["none"] = self.counts.get("none", 0) - 1
        self.counts["wire"] = self.counts.get("wire", 0) + 1

    def seen(self, table: BindingTable, port: PortKey) -> nsx.Imported | None:
        """A port met for the first time: when its MAC belongs to a segment waiting for its
        VNI, map the segment and import its ports; a MAC seen on a second VNI is a conflict."""
        path = self.by_mac.get(port.mac)
        if path is None or not port.segment.startswith(OVERLAY):
            return None
        wire = self.mapped.get(path)
        if wire is not None:
            if wire != port.segment and port.segment not in self.conflicts.setdefault(path, set()):
                self.conflicts[path].add(port.segment)
                log.warning(
                    "NSX segment %s: its MACs are seen on %s and on %s; it stays mapped to %s",
                    path, wire, port.segment, wire,
                )  # fmt: skip
            return None
        self.mapped[path] = port.segment
        if self.counts:
            self._counted()
        ports = [dataclasses.replace(p, segment=port.segment) for p in self.waiting.pop(path, [])]
        log.info("NSX segment %s mapped to %s by the wire (%s)", path, port.segment, port.mac)
        return nsx.add(table, ports)
