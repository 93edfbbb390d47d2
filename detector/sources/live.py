"""Live sources: an AF_PACKET socket on a mirror interface, or a UDP socket ending a tunnel.

Both hand over record batches at least every `flush` seconds, so an alert leaves within a
second of its packet, and accumulate the kernel's drop counters (which reset on read).
AF_PACKET needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); the UDP source needs no
privilege: cloud traffic mirroring and a VDS port mirror can send Geneve/VXLAN to a socket.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import time
from typing import Protocol

from detector.errors import CaptureError
from detector.sources.ring import Ring
from detector.values import LINKTYPE_ETHERNET, RecordBatch

log = logging.getLogger("spoofwatch")

ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_STATISTICS, PACKET_MR_PROMISC = 263, 1, 6, 1
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
MAX_FRAME = 65536 + 64


class LiveSource(Protocol):
    """A source that is read until stopped."""

    name: str

    def next_batch(self, flush: float) -> RecordBatch | None: ...

    def drops(self) -> dict[str, int]: ...

    def close(self) -> None: ...


class _Collector:
    """Fills one buffer with records from a non-blocking socket until full or flush time."""

    def __init__(self, name: str, sock: socket.socket, max_batch: int) -> None:
        self.name = name
        self.sock = sock
        self.max_batch = max_batch
        self.buf = bytearray(min(max_batch, 8192) * 2048 + MAX_FRAME)  # full: the batch ends
        self.number = 1
        sock.setblocking(False)

    def collect(self, flush: float, receive: object) -> RecordBatch | None:
        """`receive(view)` reads one record into the view: (where it starts, its length)."""
        deadline = time.monotonic() + flush
        view = memoryview(self.buf)
        offsets: list[int] = []
        lengths: list[int] = []
        stamps: list[int] = []
        pos = 0
        while len(offsets) < self.max_batch and len(self.buf) - pos >= MAX_FRAME:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                break
            while len(offsets) < self.max_batch and len(self.buf) - pos >= MAX_FRAME:
                try:
                    skip, n = receive(view[pos:])  # type: ignore[operator]
                except BlockingIOError:
                    break
                if n:
                    offsets.append(pos + skip)
                    lengths.append(n)
                    stamps.append(time.time_ns())
                    pos += skip + n
        view.release()
        if not offsets:
            return None
        batch = RecordBatch.of(
            self.name,
            bytes(self.buf[:pos]),
            offsets,
            lengths,
            lengths,
            stamps,
            [LINKTYPE_ETHERNET] * len(offsets),
            self.number,
        )
        self.number += len(offsets)
        return batch


class AfPacketSource:
    """Capture on an interface with an optional kernel BPF filter (compiled by scapy/libpcap):
    through a TPACKET_V3 ring of `ring_mb` MiB (detector.sources.ring), or, when the kernel
    refuses one or `ring_mb` is 0, one recv() a packet."""

    name = "live"

    def __init__(
        self,
        interface: str,
        bpf: str,
        promiscuous: bool,
        max_batch: int = 4096,
        ring_mb: int = 0,
    ):
        # Protocol 0 receives nothing until bind() names one (packet(7)): so the ring and the
        # filter are in place before the first packet, and no other interface's traffic, nor
        # what the filter would refuse, is queued while they are set up (as libpcap does).
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError as exc:
            raise CaptureError(
                f"capture on {interface}: permission denied; run with CAP_NET_RAW"
                " (see deploy/systemd/spoofwatch.service), not as root"
            ) from exc
        self.ring: Ring | None = None
        if ring_mb:
            try:
                self.ring = Ring(sock, ring_mb)
            except OSError as exc:
                log.warning(
                    "capture on %s: no TPACKET_V3 ring of %d MiB (%s); reading one packet a"
                    " recv() instead, which costs far more CPU",
                    interface, ring_mb, exc.strerror or exc,
                )  # fmt: skip
        try:
            if self.ring is None:
                _big_buffer(sock)
                sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            if bpf:
                from scapy.arch.linux import attach_filter

                attach_filter(sock, bpf, interface)
            sock.bind((interface, ETH_P_ALL))  # reception starts here
            if promiscuous:
                index = socket.if_nametoindex(interface)
                mreq = struct.pack("iHH8s", index, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        except OSError as exc:
            self._close(sock)
            raise CaptureError(f"capture on {interface}: {exc.strerror or exc}") from exc
        except Exception as exc:  # scapy's filter compiler: a bad expression or no libpcap
            self._close(sock)
            raise CaptureError(f"capture on {interface}: BPF filter {bpf!r}: {exc}") from exc
        self.interface = interface
        self.sock = sock
        self.collector = _Collector(f"live:{interface}", sock, max_batch)
        self.max_batch = max_batch
        self.kernel_drops = self.freezes = 0
        if self.ring is not None:
            log.info("capture on %s through a %d MiB TPACKET_V3 ring", interface, ring_mb)

    def next_batch(self, flush: float) -> RecordBatch | None:
        if self.ring is not None:
            return self.ring.next_batch(self.collector.name, flush, self.max_batch)
        return self.collector.collect(flush, self._receive)

    def _receive(self, view: memoryview) -> tuple[int, int]:
        """One frame into view[4:]; a VLAN tag the kernel took off (PACKET_AUXDATA) goes back
        in front of it, after the MAC addresses."""
        n, ancillary, _, _ = self.sock.recvmsg_into([view[4:]], 64)
        for level, kind, data in ancillary:
            if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= 20 and n >= 12:
                status, _, _, _, _, tci, tpid = struct.unpack_from("IIIHHHH", data)
                if status & TP_STATUS_VLAN_VALID:
                    view[:12] = view[4:16]
                    tpid = tpid if status & TP_STATUS_VLAN_TPID_VALID else 0x8100
                    view[12:16] = struct.pack("!HH", tpid, tci)
                    return 0, n + 4
        return 4, n

    def drops(self) -> dict[str, int]:
        """Kernel drops so far (PACKET_STATISTICS resets on every read, so we add them up)."""
        if self.ring is not None:
            drops, freezes = self.ring.statistics()
            if freezes > self.freezes:
                log.warning(
                    "the capture ring was full %d times (%d packets dropped in all): raise"
                    " source.ring_mb, or give spoofwatch a core of its own",
                    freezes, drops,
                )  # fmt: skip
                self.freezes = freezes
            return {"kernel": drops}
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        _packets, dropped = struct.unpack("II", raw)
        self.kernel_drops += dropped
        return {"kernel": self.kernel_drops}

    def close(self) -> None:
        self._close(self.sock)

    def _close(self, sock: socket.socket) -> None:
        if self.ring is not None:
            self.ring.close()
        sock.close()


def _big_buffer(sock: socket.socket, size: int = 64 << 20) -> None:
    """A socket buffer that absorbs bursts (first-seen ports take the slow path): past
    net.core.rmem_max when CAP_NET_ADMIN allows (SO_RCVBUFFORCE), else as large as allowed."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, 33, size)  # SO_RCVBUFFORCE
    except PermissionError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


class UdpTunnelSource:
    """End a Geneve/VXLAN mirror tunnel on a UDP socket; each datagram gets a synthetic
    Ethernet/IP/UDP header naming its sender, so the same decoder handles it."""

    name = "udp"

    def __init__(self, listen: str, port: int, max_batch: int = 4096) -> None:
        family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            _big_buffer(self.sock)
            self.sock.bind((listen, port))
        except OSError as exc:
            self.sock.close()
            raise CaptureError(f"listen on {listen}:{port}/udp: {exc.strerror or exc}") from exc
        self.port = self.sock.getsockname()[1]
        self.local = listen
        self.collector = _Collector(f"udp:{port}", self.sock, max_batch)

    def _receive(self, view: memoryview) -> tuple[int, int]:
        n, peer = self.sock.recvfrom_into(view[42:])
        header = outer_header(peer[0], self.local, self.port, n)
        if header is None:
            return 0, 0  # an IPv6 sender on a dual-stack socket: not wrapped (IPv4 only for now)
        view[:42] = header
        return 0, 42 + n

    def next_batch(self, flush: float) -> RecordBatch | None:
        return self.collector.collect(flush, self._receive)

    def drops(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        self.sock.close()


def outer_header(src: str, dst: str, dport: int, payload: int) -> bytes | None:
    """Ethernet + IPv4 + UDP headers for a datagram (checksums zero: nothing verifies them)."""
    try:
        s, d = socket.inet_aton(src), socket.inet_aton(dst if dst not in ("", "0.0.0.0") else src)
    except OSError:
        return None
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + payload, 0, 0x4000, 64, 17, 0, s, d)
    return eth + ip + struct.pack("!HHHH", 0, dport, 8 + payload, 0)
