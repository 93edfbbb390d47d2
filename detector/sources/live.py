"""The `live` source: an AF_PACKET socket on the interface that receives the mirror.

It accumulates the kernel's drop counters (which reset on read). It needs CAP_NET_RAW (and
CAP_NET_ADMIN for promiscuous mode).
"""

from __future__ import annotations

import logging
import socket
import struct

from detector.config.settings import RunConfig
from detector.errors import CaptureError, ConfigError
from detector.sources.collect import SocketBatcher, enlarge_buffer
from detector.sources.ring import Ring
from detector.values import RecordBatch

log = logging.getLogger("spoofwatch")

ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_STATISTICS, PACKET_MR_PROMISC = 263, 1, 6, 1
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40


class AfPacketSource:
    """Capture on an interface with an optional kernel BPF filter (compiled by scapy/libpcap):
    through a TPACKET_V3 ring of `ring_mb` MiB (detector.sources.ring), or, when the kernel
    refuses one or `ring_mb` is 0, one recv() a packet."""

    name = "live"

    @classmethod
    def from_config(cls, run: RunConfig) -> AfPacketSource:
        if not run.interface:
            raise ConfigError(
                "source.interface: the interface that receives the mirror is required"
            )
        return cls(run.interface, run.bpf_filter, run.promiscuous, run.max_batch, run.ring_mb)

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
                enlarge_buffer(sock)
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
        self.collector = SocketBatcher(f"live:{interface}", sock, max_batch)
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
