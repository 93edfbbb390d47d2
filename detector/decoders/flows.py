"""IPFIX flow records (RFC 7011) as observations: the port, segment and source they speak for.

Port: the segment (layer2SegmentId: type byte 0x01 VXLAN, 0x07 Geneve, low 24 bits the VNI;
else the VLAN) and the source MAC where present, else the VIF (vifId 961, vifUuid 960) or
virtualObsID (898) as "vif:<id>", else on a VMware VDS the access port a VM is attached to
(ingressInterfaceAttr 2: "vif:<exporter>/port<ingressInterface>"). Source address:
tenantSourceIPv4/IPv6 (881/883) where present (the VM's own address inside the tunnel), else
sourceIPv4/IPv6Address.
"""

from __future__ import annotations

from detector.decoders.ipfix import Flow
from detector.model import Frame

SEGMENT_TYPES = {0x01: "vxlan", 0x07: "geneve"}
ACCESS_PORT = 0x02  # ingressInterfaceAttr: ingressInterface is the port a VM is attached to


def _first(values: dict[str, object], names: tuple[str, ...]) -> str | None:
    """The first of these elements present as an address (IP or MAC). An address element of the
    wrong length decodes as an integer or as hex, neither of which holds a dot or a colon."""
    return next(
        (v for k in names if isinstance(v := values.get(k), str) and ("." in v or ":" in v)), None
    )


def flow_frame(flow: Flow, number: int) -> Frame | None:
    """The observation a flow record makes, or None when it names no port or no source."""
    v = flow.values
    src = _first(
        v, ("tenantSourceIPv4", "tenantSourceIPv6", "sourceIPv4Address", "sourceIPv6Address")
    )
    dst = _first(
        v, ("tenantDestIPv4", "tenantDestIPv6", "destinationIPv4Address", "destinationIPv6Address")
    )
    mac = _first(v, ("sourceMacAddress", "postSourceMacAddress"))
    if mac is None:
        vif = v.get("vifId") or v.get("vifUuid") or v.get("virtualObsID")
        if not vif and v.get("ingressInterfaceAttr") == ACCESS_PORT and "ingressInterface" in v:
            vif = f"{flow.exporter}/port{v['ingressInterface']}"  # the VM's access port
        mac = f"vif:{vif}" if vif else None
    if src is None or mac is None:
        return None
    encap = vni = None
    segment = v.get("layer2SegmentId")
    if isinstance(segment, int) and segment:
        encap = SEGMENT_TYPES.get(segment >> 56)
        vni = segment & 0xFFFFFF if encap else None
    vlan = v.get("vlanId") or v.get("dot1qVlanId")
    if isinstance(v.get("flowStartMilliseconds"), int):
        ts = v["flowStartMilliseconds"] * 1_000_000
    elif isinstance(v.get("flowStartSeconds"), int):
        ts = v["flowStartSeconds"] * 1_000_000_000
    else:
        ts = flow.export_time * 1_000_000_000
    if not 0 <= ts < 1 << 63:  # a start time no clock can hold: the message's export time
        ts = flow.export_time * 1_000_000_000
    dst_mac = _first(v, ("destinationMacAddress",))
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
