"""Write the deterministic benchmark capture: benign Geneve/VXLAN mirror traffic, seeded.

400 VMs in 20 VNIs (tenants reuse 10.0.0.0/24 in every VNI) on 16 hypervisors; every VM
announces itself by gratuitous ARP first, then 4% of frames are ARP and the rest IPv4
TCP/UDP/ICMP; 16 VNIs on Geneve (half the frames carry an 8-byte option), 4 on VXLAN;
mean frame ~600 B.
Built with struct, not scapy: a million packets take seconds.
"""

from __future__ import annotations

import random
import struct
import sys
import zlib
from pathlib import Path

SEED = 20261127
VNIS = 20
VMS_PER_VNI = 20
HYPERVISORS = 16
T0 = 1_767_225_600


def checksumless_ipv4(src: bytes, dst: bytes, proto: int, payload_len: int, ident: int) -> bytes:
    return struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident, 0x4000, 64, proto, 0, src, dst
    )


def main(path: str, packets: int = 1_000_000) -> None:
    rng = random.Random(SEED)
    vnis = rng.sample(range(1, 1 << 24), VNIS)
    vxlan_vnis = set(vnis[16:])  # one encapsulation per segment: 16 Geneve VNIs, 4 VXLAN
    vms = []
    for v in vnis:
        for i in range(VMS_PER_VNI):
            mac = bytes(
                [
                    0x02,
                    rng.randrange(256),
                    rng.randrange(256),
                    rng.randrange(256),
                    rng.randrange(256),
                    rng.randrange(256),
                ]
            )
            vms.append((v, mac, bytes([10, 0, 0, 10 + i]), rng.randrange(HYPERVISORS)))
    by_vni: dict[int, list[int]] = {}
    for idx, vm in enumerate(vms):
        by_vni.setdefault(vm[0], []).append(idx)
    with open(path, "wb") as out:
        write(out, rng, vms, by_vni, vxlan_vnis, packets)


def write(out, rng, vms, by_vni, vxlan_vnis, packets):  # type: ignore[no-untyped-def]
    """Write the header and every record."""
    teps = [(bytes([0x52, 0x54, 0, 0x10, 0, h + 1]), bytes([172, 16, 0, h + 1])) for h in range(16)]
    weights = [1 / (r + 1) ** 0.8 for r in range(len(vms))]
    order = list(range(len(vms)))
    rng.shuffle(order)
    noise = rng.randbytes(1500)
    rec = struct.Struct("<IIII")
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t_us = 0
    picks = rng.choices(order, weights=weights, k=packets)
    for n in range(packets):
        if n < len(vms):
            src = n
            kind = "garp"
        else:
            src = picks[n]
            kind = "arp" if rng.random() < 0.04 else "ip"
        vni, smac, sip, hv = vms[src]
        peer = vms[rng.choice(by_vni[vni])]
        if kind in ("garp", "arp"):
            target = sip if kind == "garp" else peer[2]  # gratuitous: it asks for itself
            arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + smac + sip + bytes(6) + target
            inner = b"\xff" * 6 + smac + b"\x08\x06" + arp
        else:
            r = rng.random()
            size = (
                rng.randint(64, 128)
                if r < 0.4
                else rng.randint(129, 999)
                if r < 0.65
                else rng.randint(1000, 1400)
            )
            proto = rng.choices((6, 17, 1), (75, 20, 5))[0]
            l4 = max(size - 34, 8)
            body = noise[:l4]
            if proto == 17:
                body = (
                    struct.pack(
                        "!HHHH", rng.randrange(1024, 65535), rng.choice((53, 123, 443, 514)), l4, 0
                    )
                    + body[8:]
                )
            inner = (
                peer[1]
                + smac
                + b"\x08\x00"
                + checksumless_ipv4(sip, peer[2], proto, l4, n & 0xFFFF)
                + body
            )
        (omac, oip), (dmac, dip) = teps[hv], teps[peer[3]]
        if vni not in vxlan_vnis:
            opt = b"\x01\x02\x80\x01" + struct.pack("!I", n) if n & 1 else b""
            tun = struct.pack("!BBHI", len(opt) // 4, 0, 0x6558, vni << 8) + opt
            dport = 6081
        else:
            tun = struct.pack("!BBHI", 0x08, 0, 0, vni << 8)
            dport = 4789
        udp_len = 8 + len(tun) + len(inner)
        udp = struct.pack("!HHHH", 49152 + (zlib.crc32(smac + peer[1]) & 0x3FFF), dport, udp_len, 0)
        frame = (
            dmac
            + omac
            + b"\x08\x00"
            + checksumless_ipv4(oip, dip, 17, udp_len, n & 0xFFFF)
            + udp
            + tun
            + inner
        )
        t_us += 1 + int(rng.expovariate(0.1))
        out.write(rec.pack(T0 + t_us // 1_000_000, t_us % 1_000_000, len(frame), len(frame)))
        out.write(frame)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "bench/out/bench-1m.pcap"
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    main(target, int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
