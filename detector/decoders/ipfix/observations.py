"""IPFIX flow records (RFC 7011) as observations: the port, segment and source they speak for.

Port: the segment (layer2SegmentId: type byte 0x01 VXLAN, 0x07 Geneve, low 24 bits the VNI;
else the VLAN) and the source MAC where present, else the VIF (vifId 961, vifUuid 960) or
virtualObsID (898) as "vif:<id>", else on a VMware VDS the access port a VM is attached to
(ingressInterfaceAttr 2: "vif:<exporter>/port<ingressInterface>"). Source address:
tenantSourceIPv4/IPv6 (881/883) where present (the VM's own address inside the tunnel), else
sourceIPv4/IPv6Address.
"""

from __future__ import annotations

from detector.decoders.ipfix.decoder import Flow
from detector.values import Frame, is_unicast

SEGMENT_TYPES = {0x01: "vxlan", 0x07: "geneve"}
ACCESS_PORT = 0x02  # ingressInterfaceAttr: ingressInterface is the port a VM is attached to
SOURCES = ("tenantSourceIPv4", "tenantSourceIPv6", "sourceIPv4Address", "sourceIPv6Address")
DESTINATIONS = (
    "tenantDestIPv4",
    "tenantDestIPv6",
    "destinationIPv4Address",
    "destinationIPv6Address",
)
MACS = ("sourceMacAddress", "postSourceMacAddress")
VIFS = ("vifId", "vifUuid", "virtualObsID")
ACCESS = ("ingressInterfaceAttr", "ingressInterface")
SEGMENTS = ("layer2SegmentId", "vlanId", "dot1qVlanId")
DST_MACS = ("destinationMacAddress",)
# The elements whose values can change what detection makes of a record (port, segment,
# source); with the exporter and whether the destination is unicast (`unicast_destination`),
# records equal in these are judged alike (see detector.fast.flows.path).
JUDGED = SOURCES + MACS + VIFS + ACCESS + SEGMENTS


def _first(values: dict[str, object], names: tuple[str, ...]) -> str | None:
    """The first of these elements present as an address (IP or MAC). An address element of the
    wrong length decodes as an integer or as hex, neither of which holds a dot or a colon."""
    return next(
        (v for k in names if isinstance(v := values.get(k), str) and ("." in v or ":" in v)), None
    )


def unicast_destination(values: dict[str, object]) -> bool:
    """Is the record's destination MAC a unicast one (a frame that can move its port)?"""
    return is_unicast(_first(values, DST_MACS))


def flow_frame(flow: Flow, number: int) -> Frame | None:
    """The observation a flow record makes, or None when it names no port or no source."""
    v = flow.values
    src, dst, mac = _first(v, SOURCES), _first(v, DESTINATIONS), _first(v, MACS)
    if mac is None:
        vif = v.get(VIFS[0]) or v.get(VIFS[1]) or v.get(VIFS[2])
        if not vif and v.get("ingressInterfaceAttr") == ACCESS_PORT and "ingressInterface" in v:
            vif = f"{flow.exporter}/port{v['ingressInterface']}"  # the VM's access port
        mac = f"vif:{vif}" if vif else None
    if src is None or mac is None:
        return None
    encap = vni = None
    segment = v.get(SEGMENTS[0])
    if isinstance(segment, int) and segment:
        encap = SEGMENT_TYPES.get(segment >> 56)
        vni = segment & 0xFFFFFF if encap else None
    vlan = v.get(SEGMENTS[1]) or v.get(SEGMENTS[2])
    if isinstance(v.get("flowStartMilliseconds"), int):
        ts = v["flowStartMilliseconds"] * 1_000_000
    elif isinstance(v.get("flowStartSeconds"), int):
        ts = v["flowStartSeconds"] * 1_000_000_000
    else:
        ts = flow.export_time * 1_000_000_000
    if not 0 <= ts < 1 << 63:  # a start time no clock can hold: the message's export time
        ts = flow.export_time * 1_000_000_000
    dst_mac = _first(v, DST_MACS)
    proto = v.get("protocolIdentifier") or v.get("tenantProtocol")
    return Frame(
        packet=number,
        ts_ns=ts,
        encap=encap,
        vni=vni,
        outer_src=flow.exporter,  # the host that saw the flow: a VM that moves changes it
        outer_dst=None,
        src_mac=mac,
        dst_mac=dst_mac,
        vlans=(vlan,) if isinstance(vlan, int) and vlan else (),
        ethertype=0x86DD if ":" in src else 0x0800,
        src_ip=src,
        dst_ip=dst,
        ip_proto=proto if isinstance(proto, int) else None,
        flow=True,
        origin=f"ipfix:{flow.exporter}/{flow.domain}",
    )
