"""Write a deterministic IPFIX capture: NSX-style flow records from hypervisors to a collector.

RFC 7011 messages on UDP 4739, one template per exporter (source and destination MAC,
layer2SegmentId, IPv4 addresses, ports, protocol, counters, flowStartMilliseconds), 30 records a
message. 400 VMs in 20 Geneve/VXLAN segments behind 16 exporters, each VM's flows from its own
address. With trouble, some records are spoofed (an unbound source, a neighbour's address) and
the busiest VMs move to another exporter and back. Built with struct; seeded.
"""

from __future__ import annotations

import random
import struct
import sys

SEED = 20261128
PER_MESSAGE = 30
T0 = 1_767_225_600
# (element id, length): RFC 7012 / IANA numbers.
FIELDS = ((56, 6), (80, 6), (351, 8), (8, 4), (12, 4), (7, 2), (11, 2), (4, 1), (2, 8), (1, 8))
FIELDS += ((152, 8),)
RECORD = struct.Struct("!6s6sQ4s4sHHBQQQ")
TEMPLATE_ID = 256
# With --vif the port is NSX's VIF (VMware vifId, enterprise 6876 element 961, a 36-byte UUID)
# in place of the source MAC.
VIF_RECORD = struct.Struct("!36s6sQ4s4sHHBQQQ")


def vms(rng: random.Random) -> list[tuple[int, bytes, bytes, int]]:
    """(layer2SegmentId, MAC, address, exporter) of 400 VMs; tenants reuse 10.0.0.0/24."""
    out = []
    for s in range(20):
        segment = (0x07 if s < 16 else 0x01) << 56 | rng.randrange(1, 1 << 24)
        for i in range(20):
            mac = bytes([0x02, *(rng.randrange(256) for _ in range(5))])
            out.append((segment, mac, bytes([10, 0, 0, 10 + i]), rng.randrange(16)))
    return out


def message(exporter: int, seq: int, t: int, body: bytes, template: bool, vif: bool) -> bytes:
    sets = b""
    if template:
        tset = struct.pack("!HH", TEMPLATE_ID, len(FIELDS))
        first = struct.pack("!HHI", 961 | 0x8000, 36, 6876) if vif else struct.pack("!HH", 56, 6)
        tset += first + b"".join(struct.pack("!HH", i, n) for i, n in FIELDS[1:])
        sets += struct.pack("!HH", 2, 4 + len(tset)) + tset
    sets += struct.pack("!HH", TEMPLATE_ID, 4 + len(body)) + body
    return struct.pack("!HHIII", 10, 16 + len(sets), t, seq, 1) + sets


def packet(exporter: int, payload: bytes) -> bytes:
    src, dst = bytes([172, 16, 0, exporter + 1]), bytes([172, 16, 9, 9])
    udp = struct.pack("!HHHH", 40000 + exporter, 4739, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    eth = bytes([0x52, 0x54, 0, 0, 9, 9, 0x52, 0x54, 0, 0x10, 0, exporter + 1, 0x08, 0x00])
    return eth + ip + udp


def main(path: str, records: int = 600_000, trouble: bool = False, vif: bool = False) -> None:
    rng = random.Random(SEED)
    table = vms(rng)
    weights = [1 / (r + 1) ** 0.8 for r in range(len(table))]
    seq = [0] * 16
    sent = [False] * 16
    pending: list[list[bytes]] = [[] for _ in range(16)]
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        for n in range(records):
            t_ms = T0 * 1000 + n // 10
            i = rng.choices(range(len(table)), weights)[0] if n % 7 else n % len(table)
            segment, mac, src, exporter = table[i]
            peer = table[rng.randrange(len(table))]
            if trouble and n % 997 == 500:
                src = bytes([10, 0, 0, 200 + n % 50])  # an address nobody is bound to
            elif trouble and n % 1499 == 700:
                src = peer[2]  # a neighbour's address (the same segment if lucky)
            elif trouble and n % 4001 == 2000:  # one of the busiest VMs moves host, and back
                moved, (seg, vm_mac, vm_src, host) = (n // 4001) % 3, table[(n // 4001) % 3]
                table[moved] = (seg, vm_mac, vm_src, host ^ 1)
            dst = peer[1] if n % 5 else b"\xff" * 6
            port = f"5d1e3c1a-0000-4000-8000-{mac.hex()}".encode() if vif else mac
            rec = (VIF_RECORD if vif else RECORD).pack(
                port, dst, segment, src, peer[2], 1024 + n % 50000, 443, 6, 3, 1800, t_ms
            )
            pending[exporter].append(rec)
            if len(pending[exporter]) == PER_MESSAGE:
                body = b"".join(pending[exporter])
                pending[exporter] = []
                first = not sent[exporter]
                msg = message(exporter, seq[exporter], t_ms // 1000, body, first, vif)
                sent[exporter] = True
                seq[exporter] += PER_MESSAGE
                frame = packet(exporter, msg)
                ns = t_ms * 1_000_000
                out.write(struct.pack("<IIII", ns // 10**9, ns % 10**9, len(frame), len(frame)))
                out.write(frame)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: gen_ipfix.py OUT.pcap [RECORDS] [--trouble] [--vif]")
    count = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 600_000
    main(sys.argv[1], count, "--trouble" in sys.argv, "--vif" in sys.argv)
