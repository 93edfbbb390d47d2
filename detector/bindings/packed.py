"""Ports, addresses and bindings as plain ints, so a million-port table stays small (#4)."""

from __future__ import annotations

import re
import socket

from detector.values import Binding, Evidence, Method, PortKey

# An address is its value shifted left by one, with bit 0 set for IPv6 (so the width is known).
V4_BITS, V6_BITS = 33, 129

# A binding: bit 0 present, bits 1-3 method, bit 4 restored, bit 5 has evidence,
# bits 6-25 evidence source id, 26-73 packet number, 74-137 capture ns, then the address.
FIXED = 138
_M20, _M48, _M64 = (1 << 20) - 1, (1 << 48) - 1, (1 << 64) - 1
METHODS = tuple(Method)
_METHOD_INDEX = {m: i for i, m in enumerate(METHODS)}

_MAC_NAME = 1 << 48  # a port "MAC" that is not one (a VIF from IPFIX): bit 48 set, low bits an id
_SEGMENT_SHIFT = 49
_MAC_RE = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}\Z")
SOURCE_CAP = 1 << 20
SOURCE_NOT_KEPT = "(source not kept: too many sources)"


def addr_int(text: str) -> int:
    """An IPv4 or IPv6 address (text) as an int; ValueError if it is neither."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text)) << 1
    except OSError:
        pass
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text)) << 1 | 1
    except (OSError, TypeError) as exc:
        raise ValueError(f"not an IP address: {text!r}") from exc


def addr_text(a: int) -> str:
    """The text of an address int, as the decoders write it (inet_ntop)."""
    if a & 1:
        return socket.inet_ntop(socket.AF_INET6, (a >> 1).to_bytes(16))
    return socket.inet_ntop(socket.AF_INET, (a >> 1).to_bytes(4))


def addr_bits(a: int) -> int:
    """How many bits the address int occupies in a packed value."""
    return V6_BITS if a & 1 else V4_BITS


def binding_address(b: int) -> int:
    """The address int of a packed binding."""
    return (b >> FIXED) & ((1 << addr_bits(b >> FIXED)) - 1)


def binding_method(b: int) -> Method:
    return METHODS[(b >> 1) & 7]


def owner_key(a: int, segment: int) -> int:
    """The key of (segment id, address int) in the owner index."""
    return a << 32 | segment


def segment_id(key: int) -> int:
    """The segment id inside a port key."""
    return key >> _SEGMENT_SHIFT


class Names:
    """Strings interned as small ids (segments, VIF names, evidence sources)."""

    __slots__ = ("ids", "names")

    def __init__(self, *reserved: str) -> None:
        self.names: list[str] = list(reserved)
        self.ids: dict[str, int] = {n: i for i, n in enumerate(reserved)}

    def find(self, name: str) -> int | None:
        return self.ids.get(name)

    def add(self, name: str) -> int:
        i = self.ids.get(name)
        if i is None:
            i = self.ids[name] = len(self.names)
            self.names.append(name)
        return i


class Codec:
    """Turns ports and bindings into ints and back; ids are permanent, so ints compare."""

    def __init__(self) -> None:
        self.segments = Names()
        self.macs = Names()  # port names that are not MACs
        self.sources = Names(SOURCE_NOT_KEPT)
        self.sources_dropped = 0

    def port(self, port: PortKey, create: bool) -> int | None:
        """The port's key; None when it cannot exist yet and `create` is off."""
        seg = self.segments.add(port.segment) if create else self.segments.find(port.segment)
        if seg is None:
            return None
        mac = port.mac
        if _MAC_RE.match(mac):
            m = int(mac.replace(":", ""), 16)
        else:
            i = self.macs.add(mac) if create else self.macs.find(mac)
            if i is None:
                return None
            m = _MAC_NAME | i
        return seg << _SEGMENT_SHIFT | m

    def port_of(self, key: int) -> PortKey:
        m = key & (_MAC_NAME | _M48)
        mac = self.macs.names[m & _M48] if m & _MAC_NAME else m.to_bytes(6).hex(":")
        return PortKey(self.segments.names[key >> _SEGMENT_SHIFT], mac)

    def pack(self, a: int, method: Method, evidence: Evidence | None, restored: bool) -> int:
        """A binding of address int `a` as one int."""
        b = 1 | _METHOD_INDEX[method] << 1 | restored << 4 | a << FIXED
        if evidence is not None:
            source = self.sources.find(evidence.source)
            if source is None:
                if len(self.sources.names) < SOURCE_CAP:
                    source = self.sources.add(evidence.source)
                else:
                    source, self.sources_dropped = 0, self.sources_dropped + 1
            b |= 1 << 5 | source << 6 | (evidence.packet & _M48) << 26
            b |= (max(evidence.ts_ns, 0) & _M64) << 74
        return b

    def unpack(self, b: int) -> Binding:
        evidence = None
        if b >> 5 & 1:
            source = self.sources.names[(b >> 6) & _M20]
            evidence = Evidence(source, (b >> 26) & _M48, (b >> 74) & _M64)
        method = binding_method(b)
        return Binding(addr_text(binding_address(b)), method, evidence, bool(b >> 4 & 1))


def split(v: int) -> tuple[int, int]:
    """A compact port's (binding, endpoint code); binding 0 when it holds none."""
    if not v & 1:
        return 0, v >> 1
    width = FIXED + addr_bits(v >> FIXED)
    return v & ((1 << width) - 1), v >> width


def join(b: int, endpoint: int) -> int:
    """The compact port holding binding `b` (or 0) behind endpoint code `endpoint` (or 0)."""
    if not b:
        return endpoint << 1
    return b | endpoint << (FIXED + addr_bits(b >> FIXED))
