"""Value types shared by every stage: record batches, decoded frames, bindings and alerts."""

from __future__ import annotations

import mmap
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt

# What decoders read from: a reader's reused chunk, plain bytes, or a live capture ring.
Buffer = bytes | bytearray | memoryview | mmap.mmap

# Link types we read (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
# Some capture writers use the historical DLT values for raw IP.
LINKTYPE_RAW_BSD = (12, 14)


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """Captured records as columns over one buffer: record i is buf[offsets[i]:][:caplens[i]].

    The buffer is the reader's and is reused once the next batch is asked for (a capture ring
    hands its blocks back to the kernel then): consume a batch before asking for the next.
    """

    source: str
    buf: Buffer
    offsets: npt.NDArray[np.int64]
    caplens: npt.NDArray[np.int64]
    origlens: npt.NDArray[np.int64]
    ts_ns: npt.NDArray[np.int64]
    linktypes: npt.NDArray[np.int64]
    first_number: int  # 1-based number of the first record in its capture

    def __len__(self) -> int:
        return len(self.offsets)

    @classmethod
    def of(
        cls,
        source: str,
        buf: bytes | bytearray,
        offsets: list[int],
        caplens: list[int],
        origlens: list[int],
        ts_ns: list[int],
        linktypes: list[int],
        first_number: int,
    ) -> RecordBatch:
        """Build a batch from Python lists."""

        def arr(values: list[int]) -> npt.NDArray[np.int64]:
            return np.asarray(values, dtype=np.int64)

        return cls(
            source,
            buf,
            arr(offsets),
            arr(caplens),
            arr(origlens),
            arr(ts_ns),
            arr(linktypes),
            first_number,
        )


@dataclass(frozen=True, slots=True)
class Arp:
    """An ARP message (RFC 826) for Ethernet/IPv4."""

    op: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


@dataclass(frozen=True, slots=True)
class Nd:
    """An ICMPv6 neighbour discovery message (RFC 4861)."""

    type: int  # 133 RS, 134 RA, 135 NS, 136 NA, 137 redirect
    target: str | None
    source_lladdr: str | None
    target_lladdr: str | None


@dataclass(frozen=True, slots=True)
class Dhcp:
    """A DHCPv4 message (RFC 2131) with the options a binding needs (RFC 2132)."""

    op: int
    message_type: int | None
    xid: int
    chaddr: str
    yiaddr: str
    server_id: str | None
    requested_ip: str | None


@dataclass(frozen=True, slots=True)
class Frame:
    """One decapsulated inner frame: what a VM port sent, and where the mirror saw it."""

    packet: int
    ts_ns: int
    encap: str | None  # geneve, vxlan, erspan, gre, or None for an un-tunnelled frame
    vni: int | None
    outer_src: str | None  # tunnel endpoints
    outer_dst: str | None
    src_mac: str | None  # None when the tunnel carried bare IP
    dst_mac: str | None
    vlans: tuple[int, ...]
    ethertype: int | None
    src_ip: str | None
    dst_ip: str | None
    ip_proto: int | None
    dst_port: int | None = None  # TCP or UDP destination port of the innermost packet
    tcp_flags: int = 0  # its TCP flags (RFC 9293 §3.1), 0 for other protocols
    session: int | None = None  # ERSPAN session id
    mirror_vlan: int | None = None  # VLAN recorded in an ERSPAN header
    oam: bool = False  # a Geneve OAM packet: tunnel control traffic, not a VM's
    flow: bool = False  # an IPFIX/NetFlow record, not a captured frame
    origin: str | None = None  # where a flow came from (exporter/domain), for evidence
    options: tuple[tuple[int, int, bytes], ...] = ()  # Geneve option TLVs (class, type, data)
    arp: Arp | None = None
    nd: Nd | None = None
    dhcp: Dhcp | None = None


@dataclass(frozen=True, slots=True)
class WindowRows:
    """What ports sent per behaviour window: one row per (port, window), counts as columns."""

    source: str  # the capture or interface the rows came from, for the alerts' evidence
    segment: tuple[str, ...]
    vni: tuple[int | None, ...]
    mac: npt.NDArray[np.uint64]
    start_ns: npt.NDArray[np.int64]  # the window's start
    first_packet: npt.NDArray[np.int64]  # the port's first packet in the window
    first_ts_ns: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]  # (rows, len(WINDOW_COUNTS))

    def __len__(self) -> int:
        return len(self.mac)


WINDOW_COUNTS = (
    "packets", "bytes", "syn", "arp_requests", "nd_messages", "dhcp_messages", "group",
    "dst_ips", "dst_ports", "arp_targets", "dhcp_clients", "new_peers",
)  # fmt: skip


@dataclass(slots=True)
class DecodeStats:
    """Counters the decoders fill: frames by encapsulation, errors and skips by (layer, reason)."""

    packets: int = 0
    bytes: int = 0
    frames: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: Counter[tuple[str, str]] = field(default_factory=Counter)
    cut: int = 0  # records the capture cut short of their length (snap length); still decoded


class Method(StrEnum):
    """How a binding was learned."""

    ARP = "arp"
    ND = "nd"
    DHCP = "dhcp"
    MANUAL = "manual"
    FLOW = "flow"  # first-seen flows, only when bindings.learn_from_flows is on
    VMTOOLS = "vmtools"  # NSX learned it from VM Tools (the guest's own word)
    NSX = "nsx"  # NSX realized it from a source it does not name (UNKNOWN)


class Severity(StrEnum):
    """Alert severity, as Alertmanager and SIEMs expect it."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class AlertKind(StrEnum):
    """The kinds of alert; each value is the `kind` field of the alert."""

    UNBOUND_SOURCE = "unbound-source"  # a port sent from an address it is not bound to
    UNLEARNED_PORT = "unlearned-port"  # a port with no binding yet sent IP traffic
    BINDING_LIMIT = "binding-limit"  # a port claimed one more address than its limit
    ARP_CONFLICT = "arp-conflict"  # ARP claiming an address realized on another port
    ND_CONFLICT = "nd-conflict"  # ND claiming an address realized on another port
    MAC_MOVE = "mac-move"  # the same MAC behind another tunnel endpoint
    ROGUE_DHCP = "rogue-dhcp"  # DHCP OFFER/ACK from a port not configured as a server
    TABLE_FULL = "table-full"  # the binding table reached its port cap
    ANOMALY = "anomaly"  # a port's window of traffic is unlike the behaviour model's baseline


@dataclass(frozen=True, slots=True)
class PortKey:
    """A VM port: the segment (overlay network) and the MAC that speaks in it."""

    segment: str
    mac: str


def normalize_mac(text: str) -> str:
    """Lower-case a MAC and use colons (NSX writes some with dashes); ValueError if not one."""
    mac = text.strip().lower()
    if not _MAC_RE.match(mac):
        raise ValueError(f"not a MAC address: {text!r}")
    return mac.replace("-", ":")


_MAC_RE = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$")
NSX_SOURCE = "nsx:"  # evidence source of a binding imported from NSX: nsx:<AddressBindingSource>


def nsx_source(b: Binding) -> str | None:
    """The AddressBindingSource of a binding NSX realized (ARP_SNOOPING, ...), else None."""
    ev = b.evidence
    if ev is None or not ev.source.startswith(NSX_SOURCE):
        return None
    return ev.source[len(NSX_SOURCE) :]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where an analyst finds the packet behind an observation."""

    source: str
    packet: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class Binding:
    """An address bound to a port, with how and when it was learned."""

    address: str  # an address, or a network in CIDR form for manual bindings
    method: Method
    evidence: Evidence | None  # None for manual bindings
    restored: bool = False  # read back from the state store after a restart


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert; `detector.sinks.jsonl.alert_to_dict` is the one place it becomes JSON."""

    kind: AlertKind
    severity: Severity
    port: PortKey
    vni: int | None
    src_ip: str | None
    evidence: Evidence
    count: int
    bindings: tuple[Binding, ...]
    impersonates: tuple[PortKey, Binding] | None
    message: str
    first_seen_ns: int
    detail: tuple[tuple[str, object], ...] = ()
    key: str | None = None  # deduplicated on (kind, port, key) rather than (kind, port, src_ip)


def is_unicast(mac: str | None) -> bool:
    """A unicast MAC (the I/G bit clear); VIF identifiers from flows count as unicast."""
    return mac is not None and (mac.startswith("vif:") or not int(mac[:2], 16) & 1)


LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime can format


def rfc3339(ts_ns: int) -> str:
    """Format nanoseconds since the epoch as an RFC 3339 UTC timestamp with microseconds."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    seconds = min(max(seconds, 0), LAST_SECOND)  # a hostile timestamp must not break output
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{ns // 1000:06d}Z"


def segment_of(frame: Frame, scope_by_session: bool = False) -> str:
    """Name the segment a frame travelled in (DESIGN §4); names are interned (one per segment)."""
    if frame.vni is not None and frame.encap in ("geneve", "vxlan"):
        return sys.intern(f"{frame.encap}:{frame.vni}")
    if frame.vlans:
        name = "vlan:" + ".".join(map(str, frame.vlans))
    elif frame.mirror_vlan:
        name = f"vlan:{frame.mirror_vlan}"
    else:
        name = "untagged"
    if scope_by_session and frame.session is not None:
        return f"erspan:{frame.session}/{name}"
    return name
