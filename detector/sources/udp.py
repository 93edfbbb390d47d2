"""The `udp` source: a Geneve/VXLAN mirror tunnel (RFC 8926, RFC 7348) ended on a UDP socket.

It needs no privilege: cloud traffic mirroring and a VDS port mirror can send to a socket.
"""

from __future__ import annotations

import socket
import struct

from detector.config.settings import RunConfig
from detector.errors import CaptureError
from detector.sources.collect import SocketBatcher, enlarge_buffer
from detector.values import RecordBatch


class UdpTunnelSource:
    """End a Geneve/VXLAN mirror tunnel on a UDP socket; each datagram gets a synthetic
    Ethernet/IP/UDP header naming its sender, so the same decoder handles it."""

    name = "udp"

    @classmethod
    def from_config(cls, run: RunConfig) -> UdpTunnelSource:
        return cls(run.listen[0], run.listen[1], run.max_batch)

    def __init__(self, listen: str, port: int, max_batch: int = 4096) -> None:
        family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            enlarge_buffer(self.sock)
            self.sock.bind((listen, port))
        except OSError as exc:
            self.sock.close()
            raise CaptureError(f"listen on {listen}:{port}/udp: {exc.strerror or exc}") from exc
        self.port = self.sock.getsockname()[1]
        self.local = listen
        self.collector = SocketBatcher(f"udp:{port}", self.sock, max_batch)

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
