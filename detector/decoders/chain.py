"""The decode chain: link layer → outer IP → tunnel (Geneve, VXLAN, GRE/ERSPAN) → inner frame.

This is the exact, per-frame path. Every malformed packet is counted by (layer, reason) and the
loop goes on; an error above the innermost Ethernet header still yields the frame with what was
decoded (its MAC is still evidence), an error in a tunnel header yields nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from detector.config.decode import DecodeConfig
from detector.decoders import arp, dhcp, ethernet, geneve, gre, ip, link, ndp, udp, vxlan
from detector.decoders.ipfix.decoder import Flow, IpfixDecoder
from detector.decoders.ipfix.observations import flow_frame
from detector.decoders.ipfix.records import FlowSet
from detector.errors import DecodeError
from detector.values import LINKTYPE_ETHERNET, Buffer, DecodeStats, Frame, RecordBatch

log = logging.getLogger("spoofwatch.decode")

ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
PROTO_TCP, PROTO_UDP, PROTO_GRE, PROTO_ICMPV6 = 6, 17, 47, 58
# Layers whose errors mean "this tunnel packet yields no frame" (the inner frame's own layers
# ethernet and vlan included): they propagate out of the inner decode.
TUNNEL_LAYERS = frozenset(("geneve", "vxlan", "gre", "erspan", "tunnel", "ethernet", "vlan"))


class Tunnel(NamedTuple):
    encap: str
    vni: int | None
    outer_src: str
    outer_dst: str
    session: int | None = None
    mirror_vlan: int | None = None
    oam: bool = False
    options: tuple[tuple[int, int, bytes], ...] = ()


class Decoder:
    """Turn record batches into inner frames, counting what could not be decoded."""

    def __init__(self, config: DecodeConfig | None = None, stats: DecodeStats | None = None):
        self.config = config or DecodeConfig()
        self.udp_ports = self.config.udp_ports()  # destination port → geneve, vxlan, ...
        self.stats = stats if stats is not None else DecodeStats()
        self._debug = log.isEnabledFor(logging.DEBUG)
        self.ipfix = IpfixDecoder()
        self.source = ""  # the capture being decoded, for debug messages
        self.flows: list[Frame] = []  # flow records decoded from the last record, if any
        self.collect_sets = False  # keep IPFIX data sets whole for the batch path instead
        self.sets: list[tuple[int, FlowSet]] = []  # (packet number, set) from the last record
        self.on_flow: Callable[[Flow], None] | None = None  # sees every raw record (flows cmd)

    def frames(self, batch: RecordBatch) -> Iterator[Frame]:
        """Yield one Frame per decodable record of the batch, in order."""
        for i in range(len(batch)):
            frame = self.decode_one(batch, i)
            if frame is not None:
                yield frame
            yield from self.take_flows()

    def take_flows(self) -> list[Frame]:
        """The flow records the last decoded record carried (an IPFIX message), once."""
        flows, self.flows = self.flows, []
        return flows

    def take_sets(self) -> list[tuple[int, FlowSet]]:
        """The data sets the last decoded record carried, once (with `collect_sets`)."""
        sets, self.sets = self.sets, []
        return sets

    def flow_frames(self, flows: Iterable[Flow], number: int) -> list[Frame]:
        """The observations flow records make, counted (a record may name no port)."""
        out = []
        for flow in flows:
            if self.on_flow is not None:
                self.on_flow(flow)
            frame = flow_frame(flow, number)
            if frame is None:
                self.stats.skipped[("ipfix", "no-port-or-source")] += 1
            else:
                out.append(frame)
                self.stats.frames["ipfix"] += 1
        return out

    def decode_one(self, batch: RecordBatch, i: int, count_packet: bool = True) -> Frame | None:
        """Decode record i of a batch, counting it (and any error) in the stats."""
        stats = self.stats
        if count_packet:
            stats.packets += 1
            stats.bytes += int(batch.origlens[i])
        off = int(batch.offsets[i])
        end = off + int(batch.caplens[i])
        number = batch.first_number + i
        self.source = batch.source
        try:
            frame = self.record(
                batch.buf, off, end, int(batch.linktypes[i]), number, int(batch.ts_ns[i])
            )
        except DecodeError as exc:
            self._error(exc, batch.buf, off, number)
            return None
        if frame is not None:
            stats.frames[frame.encap or "none"] += 1
        return frame

    def _error(self, exc: DecodeError, buf: Buffer, off: int, number: int) -> None:
        """Count a malformed packet by (layer, reason); at debug level, show its first bytes."""
        self.stats.errors[(exc.layer, exc.reason)] += 1
        if self._debug:
            log.debug(
                "%s packet %d: %s; first bytes %s",
                self.source,
                number,
                exc,
                bytes(buf[off : off + 64]).hex(),
            )

    def record(
        self, buf: Buffer, off: int, end: int, linktype: int, number: int, ts: int
    ) -> Frame | None:
        """Decode one captured record at buf[off:end]."""
        if linktype == LINKTYPE_ETHERNET:
            return self._l2(buf, off, end, None, 0, number, ts)
        found = link.header(buf, off, end, linktype)
        if found is None:
            self.stats.skipped[("link", f"linktype-{linktype}")] += 1
            return None
        l2, ethertype, pos = found
        return self._l3(buf, pos, end, l2, ethertype, None, 0, number, ts)

    def _l2(
        self,
        buf: Buffer,
        off: int,
        end: int,
        tunnel: Tunnel | None,
        depth: int,
        number: int,
        ts: int,
    ) -> Frame | None:
        dst, src, vlans, ethertype, pos = ethernet.parse(buf, off, end)
        return self._l3(buf, pos, end, (dst, src, vlans), ethertype, tunnel, depth, number, ts)

    def _l3(
        self,
        buf: Buffer,
        off: int,
        end: int,
        l2: tuple[str | None, str | None, tuple[int, ...]],
        ethertype: int,
        tunnel: Tunnel | None,
        depth: int,
        number: int,
        ts: int,
    ) -> Frame | None:
        header: ip.IPHeader | None = None
        details: dict[str, object] = {}
        try:
            if ethertype == ETH_IPV4:
                header = ip.parse_ipv4(buf, off, end)
            elif ethertype == ETH_IPV6:
                header = ip.parse_ipv6(buf, off, end)
            elif ethertype == ETH_ARP:
                details["arp"] = arp.parse(buf, off, end)
        except DecodeError as exc:
            self._error(exc, buf, off, number)
        if header is not None and header.later_fragment:
            layer = "ipv4" if ethertype == ETH_IPV4 else "ipv6"
            self.stats.skipped[(layer, "later-fragment")] += 1
        elif header is not None:
            is_tunnel, inner = self._l4(buf, header, ethertype, details, depth, number, ts)
            if is_tunnel:
                return inner
        outer = tunnel or Tunnel("", None, "", "")
        return Frame(
            packet=number,
            ts_ns=ts,
            encap=tunnel.encap if tunnel else None,
            vni=outer.vni,
            outer_src=tunnel.outer_src if tunnel else None,
            outer_dst=tunnel.outer_dst if tunnel else None,
            src_mac=l2[1],
            dst_mac=l2[0],
            vlans=l2[2],
            ethertype=ethertype,
            src_ip=header.src if header else None,
            dst_ip=header.dst if header else None,
            ip_proto=header.proto if header else None,
            session=outer.session,
            mirror_vlan=outer.mirror_vlan,
            oam=outer.oam,
            options=outer.options,
            **details,  # type: ignore[arg-type]
        )

    def _l4(
        self,
        buf: Buffer,
        h: ip.IPHeader,
        ethertype: int,
        details: dict[str, object],
        depth: int,
        number: int,
        ts: int,
    ) -> tuple[bool, Frame | None]:
        """Return (True, inner frame or None) for a tunnel packet; else (False, None) with details.

        Errors in a tunnel header or in the frame it carries propagate: the packet yields nothing.
        Errors in the upper layers of the innermost frame are counted; the frame still stands.
        """
        if h.proto == PROTO_GRE:
            mirror = gre.parse(buf, h.payload, h.end)
            if mirror is None:
                self.stats.skipped[("gre", "not-a-mirror")] += 1
                return False, None
            self._check_depth(depth)
            t = Tunnel(mirror.encap, None, h.src, h.dst, mirror.session, mirror.vlan)
            return True, self._payload(
                buf, mirror.payload, h.end, mirror.ethertype, t, depth, number, ts
            )
        try:
            if h.proto == PROTO_UDP:
                sport, dport, pos, stop = udp.parse(buf, h.payload, h.end)
                carried = self.udp_ports.get(dport)
                if carried == "ipfix" and depth == 0:
                    self._ipfix(buf, pos, stop, h.src, number)
                    return True, None
                if carried is not None and carried != "ipfix":
                    return True, self._udp_tunnel(buf, pos, stop, carried, h, depth, number, ts)
                details["dst_port"] = dport
                if dhcp.SERVER_PORT in (sport, dport) or dhcp.CLIENT_PORT in (sport, dport):
                    details["dhcp"] = dhcp.parse(buf, pos, stop)
            elif h.proto == PROTO_TCP and h.end - h.payload >= 14:  # RFC 9293 §3.1
                details["dst_port"] = (buf[h.payload + 2] << 8) | buf[h.payload + 3]
                details["tcp_flags"] = buf[h.payload + 13]
            elif h.proto == PROTO_ICMPV6 and ethertype == ETH_IPV6:
                details["nd"] = ndp.parse(buf, h.payload, h.end)
        except DecodeError as exc:
            if exc.layer in TUNNEL_LAYERS or exc.layer in ("ipfix", "netflow9"):
                raise
            self._error(exc, buf, h.payload, number)
        return False, None

    def _ipfix(self, buf: Buffer, pos: int, stop: int, exporter: str, number: int) -> None:
        """A message to a flow collector: its records become observations (RFC 7011)."""
        sets = self.ipfix.feed_sets(bytes(buf[pos:stop]), exporter)
        if self.collect_sets:
            self.sets.extend((number, s) for s in sets)
            return
        for s in sets:
            self.flows.extend(self.flow_frames(self.ipfix.expand(s), number))

    def _check_depth(self, depth: int) -> None:
        if depth >= self.config.max_depth:
            raise DecodeError("tunnel", "too-deep")

    def _udp_tunnel(
        self,
        buf: Buffer,
        pos: int,
        stop: int,
        carried: str,
        h: ip.IPHeader,
        depth: int,
        number: int,
        ts: int,
    ) -> Frame | None:
        self._check_depth(depth)
        if carried == "geneve":
            g = geneve.parse(buf, pos, stop)
            t = Tunnel("geneve", g.vni, h.src, h.dst, oam=g.oam, options=g.options)
            return self._payload(buf, g.payload, stop, g.protocol, t, depth, number, ts)
        if carried == "vxlan":
            vni, payload = vxlan.parse(buf, pos, stop)
            return self._l2(
                buf, payload, stop, Tunnel("vxlan", vni, h.src, h.dst), depth + 1, number, ts
            )
        vni, ethertype, payload = vxlan.parse_gpe(buf, pos, stop)
        t = Tunnel("vxlan", vni, h.src, h.dst)
        return self._payload(buf, payload, stop, ethertype, t, depth, number, ts)

    def _payload(
        self,
        buf: Buffer,
        off: int,
        end: int,
        ethertype: int | None,
        t: Tunnel,
        depth: int,
        number: int,
        ts: int,
    ) -> Frame | None:
        """Decode what a tunnel carries: an Ethernet frame, or bare IP/ARP (RFC 8926 §3.4)."""
        if ethertype == geneve.ETH_BRIDGING:
            return self._l2(buf, off, end, t, depth + 1, number, ts)
        if ethertype == 0 and end > off:  # ERSPAN III frame type 2: IP, version in the header
            ethertype = {4: ETH_IPV4, 6: ETH_IPV6}.get(buf[off] >> 4)
        if ethertype in (ETH_IPV4, ETH_IPV6, ETH_ARP):
            return self._l3(buf, off, end, (None, None, ()), ethertype, t, depth + 1, number, ts)
        self.stats.skipped[(t.encap, "unsupported-payload")] += 1
        return None
