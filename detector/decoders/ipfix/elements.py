"""IPFIX information elements a binding check needs: IANA's (RFC 7012 registry) and VMware's.

VMware's enterprise elements (PEN 6876) follow VMware's own NSX-T table (IDs 880-898 and
950-961); some third-party tables number them differently. Templates are decoded by their own
IDs, so an unknown element is kept under a "<enterprise>.<id>" name, never dropped.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from typing import Any

VMWARE = 6876
IPV4, IPV6, MAC, TEXT, BYTES = "ipv4", "ipv6", "mac", "text", "bytes"

# (enterprise, id): (name, type); every other element is an unsigned integer or hex bytes.
ELEMENTS: dict[tuple[int, int], tuple[str, str]] = {
    (0, 1): ("octetDeltaCount", ""),
    (0, 2): ("packetDeltaCount", ""),
    (0, 4): ("protocolIdentifier", ""),
    (0, 7): ("sourceTransportPort", ""),
    (0, 8): ("sourceIPv4Address", IPV4),
    (0, 10): ("ingressInterface", ""),
    (0, 11): ("destinationTransportPort", ""),
    (0, 12): ("destinationIPv4Address", IPV4),
    (0, 14): ("egressInterface", ""),
    (0, 27): ("sourceIPv6Address", IPV6),
    (0, 28): ("destinationIPv6Address", IPV6),
    (0, 56): ("sourceMacAddress", MAC),
    (0, 57): ("postDestinationMacAddress", MAC),
    (0, 58): ("vlanId", ""),
    (0, 80): ("destinationMacAddress", MAC),
    (0, 81): ("postSourceMacAddress", MAC),
    (0, 138): ("observationPointId", ""),
    (0, 149): ("observationDomainId", ""),
    (0, 150): ("flowStartSeconds", ""),
    (0, 151): ("flowEndSeconds", ""),
    (0, 152): ("flowStartMilliseconds", ""),
    (0, 153): ("flowEndMilliseconds", ""),
    (0, 243): ("dot1qVlanId", ""),
    (0, 245): ("dot1qCustomerVlanId", ""),
    (0, 351): ("layer2SegmentId", ""),
    (VMWARE, 880): ("tenantProtocol", ""),
    (VMWARE, 881): ("tenantSourceIPv4", IPV4),
    (VMWARE, 882): ("tenantDestIPv4", IPV4),
    (VMWARE, 883): ("tenantSourceIPv6", IPV6),
    (VMWARE, 884): ("tenantDestIPv6", IPV6),
    (VMWARE, 886): ("tenantSourcePort", ""),
    (VMWARE, 887): ("tenantDestPort", ""),
    (VMWARE, 888): ("egressInterfaceAttr", ""),
    (VMWARE, 889): ("vxlanExportRole", ""),
    (VMWARE, 890): ("ingressInterfaceAttr", ""),
    (VMWARE, 891): ("tunnelType", ""),
    (VMWARE, 892): ("tunnelKey", BYTES),
    (VMWARE, 893): ("tunnelSourceIPv4Address", IPV4),
    (VMWARE, 894): ("tunnelDestinationIPv4Address", IPV4),
    (VMWARE, 895): ("tunnelProtocolIdentifier", ""),
    (VMWARE, 896): ("tunnelSourceTransportPort", ""),
    (VMWARE, 897): ("tunnelDestinationTransportPort", ""),
    (VMWARE, 898): ("virtualObsID", TEXT),
    (VMWARE, 950): ("ruleId", ""),
    (VMWARE, 951): ("vmUuid", TEXT),
    (VMWARE, 952): ("vnicIndex", ""),
    (VMWARE, 953): ("sessionFlags", ""),
    (VMWARE, 954): ("flowDirection", ""),
    (VMWARE, 955): ("algControlFlowId", ""),
    (VMWARE, 956): ("algType", ""),
    (VMWARE, 957): ("algFlowType", ""),
    (VMWARE, 958): ("averageLatency", ""),
    (VMWARE, 959): ("retransmissionCount", ""),
    (VMWARE, 960): ("vifUuid", BYTES),
    (VMWARE, 961): ("vifId", TEXT),
}


V9_SCOPE = -1  # NetFlow v9 options scope fields: a type space of their own (RFC 3954 §6.1)
V9_SCOPES = {
    1: "scopeSystem",
    2: "scopeInterface",
    3: "scopeLineCard",
    4: "scopeCache",
    5: "scopeTemplate",
}


def name_of(enterprise: int, ie: int) -> str:
    if enterprise == V9_SCOPE:
        return V9_SCOPES.get(ie, f"scope{ie}")
    known = ELEMENTS.get((enterprise, ie))
    if known:
        return known[0]
    return f"{enterprise}.{ie}" if enterprise else str(ie)


def decode_value(enterprise: int, ie: int, raw: bytes) -> Any:
    """The element's value in a JSON-friendly form (addresses as text, integers as int)."""
    if enterprise == V9_SCOPE:
        return raw.hex()
    kind = ELEMENTS.get((enterprise, ie), ("", ""))[1]
    if kind == IPV4 and len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw)
    if kind == IPV6 and len(raw) == 16:
        return socket.inet_ntop(socket.AF_INET6, raw)
    if kind == MAC and len(raw) == 6:
        return raw.hex(":")
    if kind == TEXT:
        return raw.rstrip(b"\0").decode("utf-8", "replace")
    if kind == BYTES or len(raw) > 8:
        return raw.hex()
    return int.from_bytes(raw, "big")


Converter = Callable[[Any], Any] | None


def compile_fixed(
    fields: tuple[tuple[int, int, int], ...],
) -> tuple[struct.Struct, list[str], list[Converter]]:
    """A struct format and per-field converters for a template of fixed-length fields only."""
    fmt, names = "!", []
    convs: list[Converter] = []
    seen: dict[str, int] = {}
    for enterprise, ie, length in fields:
        name = name_of(enterprise, ie)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
        kind = ELEMENTS.get((enterprise, ie), ("", ""))[1] if enterprise != V9_SCOPE else BYTES
        if kind == "" and length in INT_FORMATS:
            fmt += INT_FORMATS[length]
            convs.append(None)
        else:
            fmt += f"{length}s"
            convs.append(_converter(enterprise, ie, length))
    return struct.Struct(fmt), names, convs


INT_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _converter(enterprise: int, ie: int, length: int) -> Converter:
    kind = ELEMENTS.get((enterprise, ie), ("", ""))[1]
    if kind == IPV4 and length == 4:
        return socket.inet_ntoa
    if kind == MAC and length == 6:
        return _mac
    return lambda raw: decode_value(enterprise, ie, raw)


def _mac(raw: bytes) -> str:
    return raw.hex(":")
