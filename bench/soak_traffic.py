"""The soak's hostile traffic as pcap files, built with numpy (a million frames in seconds):
a MAC flood, malformed tunnels, a flapping MAC clone, IPFIX template churn and bombs, and the
seed story's VM (learned first, spoofing last)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

T0 = 1_767_225_600
GENEVE = 6081
VNI = 5001
VM1_MAC = bytes.fromhex("005056a10001")
TEPS = [bytes([172, 16, 0, h]) for h in range(1, 17)]


def write_pcap(
    path: Path, frames: np.ndarray, lengths: np.ndarray | None = None, cut: bool = True
) -> None:
    """Frames (n, L) uint8 as a classic pcap (Ethernet), 10 µs apart; `lengths` ends records
    early: cut short by the snap length when `cut`, else simply shorter frames."""
    n, width = frames.shape
    caplen = np.full(n, width, dtype=np.uint32) if lengths is None else lengths.astype(np.uint32)
    header = np.zeros(n, dtype=[("s", "<u4"), ("us", "<u4"), ("cap", "<u4"), ("orig", "<u4")])
    ticks = np.arange(n, dtype=np.uint64) * 10
    header["s"], header["us"] = T0 + ticks // 1_000_000, ticks % 1_000_000
    header["cap"], header["orig"] = caplen, width if cut else caplen
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(0, n, 65536):
            chunk = []
            for j in range(i, min(n, i + 65536)):
                chunk.append(header[j].tobytes())
                chunk.append(frames[j, : caplen[j]].tobytes())
            out.write(b"".join(chunk))


def outer(inner_len: int, vni: int = VNI) -> bytes:
    """Outer Ethernet/IPv4/UDP/Geneve (RFC 8926) headers for an inner frame of this length."""
    geneve = struct.pack("!BBHI", 0, 0, 0x6558, vni << 8)
    udp = struct.pack("!HHHH", 50000, GENEVE, 8 + len(geneve) + inner_len, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp) + len(geneve) + inner_len, 0,
                     0x4000, 64, 17, 0, TEPS[0], TEPS[1])  # fmt: skip
    return bytes.fromhex("525400000902525400100001") + b"\x08\x00" + ip + udp + geneve


def framed(inner: bytes) -> bytes:
    return outer(len(inner)) + inner


OUTER_SRC = 14 + 12  # where the outer IPv4 source is in a frame
INNER = 14 + 20 + 8 + 8  # where the inner Ethernet frame starts


def arp(sender_mac: bytes, ip: bytes) -> bytes:
    """A gratuitous ARP (RFC 826) announcing `ip`."""
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, sender_mac, ip, bytes(6), ip)
    return b"\xff" * 6 + sender_mac + b"\x08\x06" + body


def udp4(mac: bytes, src: bytes, dst: bytes = bytes([10, 1, 1, 1])) -> bytes:
    """An inner IPv4/UDP datagram (to a gateway MAC) from `src`."""
    udp = struct.pack("!HHHH", 40000, 53, 16, 0) + bytes(8)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    return bytes.fromhex("005056000001") + mac + b"\x08\x00" + ip + udp


def flood(n: int, rng: np.random.Generator) -> np.ndarray:
    """n frames from n random unicast MACs: half gratuitous ARP, half IPv4 from random sources."""
    a = np.frombuffer(framed(arp(bytes(6), bytes(4))), dtype=np.uint8)
    u = np.frombuffer(framed(udp4(bytes(6), bytes(4))), dtype=np.uint8)
    width = max(len(a), len(u))
    frames = np.zeros((n, width), dtype=np.uint8)
    is_arp = rng.random(n) < 0.5
    frames[is_arp, : len(a)] = a
    frames[~is_arp, : len(u)] = u
    macs = rng.integers(0, 256, size=(n, 6), dtype=np.uint8)
    macs[:, 0] = (macs[:, 0] & 0xFC) | 0x02  # unicast, locally administered
    ips = rng.integers(1, 255, size=(n, 4), dtype=np.uint8)
    ips[:, 0] = 10
    teps = np.frombuffer(b"".join(TEPS), dtype=np.uint8).reshape(-1, 4)
    frames[:, OUTER_SRC : OUTER_SRC + 4] = teps[rng.integers(0, 16, n)]
    frames[:, INNER + 6 : INNER + 12] = macs
    arp_rows, ip_rows = np.flatnonzero(is_arp), np.flatnonzero(~is_arp)
    frames[arp_rows, INNER + 22 : INNER + 28] = macs[arp_rows]  # ARP sender MAC
    frames[arp_rows, INNER + 28 : INNER + 32] = ips[arp_rows]  # sender IP
    frames[arp_rows, INNER + 38 : INNER + 42] = ips[arp_rows]  # target IP (gratuitous)
    frames[ip_rows, INNER + 26 : INNER + 30] = ips[ip_rows]  # IPv4 source
    return frames


def malformed(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Tunnels cut short, Geneve of another version, option lengths past the end, random inner
    bytes: (frames, capture lengths)."""
    base = np.frombuffer(framed(udp4(VM1_MAC, bytes([10, 1, 1, 10]))), dtype=np.uint8)
    frames = np.tile(base, (n, 1))
    kind = rng.integers(0, 4, n)
    lengths = np.full(n, len(base))
    cut = kind == 0
    lengths[cut] = rng.integers(14, len(base), int(cut.sum()))
    frames[kind == 1, 42] = 0x40 | frames[kind == 1, 42]  # version 1
    frames[kind == 2, 42] = 0x3F  # options of 252 bytes in a short packet
    noise = kind == 3
    frames[noise, INNER:] = rng.integers(0, 256, (int(noise.sum()), len(base) - INNER), np.uint8)
    return frames, lengths


def clone(n: int) -> np.ndarray:
    """vm2's MAC (of the seed story) behind 172.16.0.2 and a foreign endpoint in turn."""
    mac = bytes.fromhex("005056a10002")
    base = np.frombuffer(framed(udp4(mac, bytes([10, 1, 1, 20]))), dtype=np.uint8)
    frames = np.tile(base, (n, 1))
    frames[:, OUTER_SRC : OUTER_SRC + 4] = np.frombuffer(TEPS[1], np.uint8)
    frames[1::2, OUTER_SRC : OUTER_SRC + 4] = np.frombuffer(bytes([172, 16, 9, 99]), np.uint8)
    return frames


def ipfix(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """IPFIX messages (RFC 7011) to UDP 4739: templates with random IDs (churn), templates of
    hundreds of fields (bombs), withdrawals, and data sets for templates never sent."""
    out = []
    for i in range(n):
        tid = int(rng.integers(256, 65536))
        kind = i % 4
        if kind == 0:  # churn: a plausible template, a new ID each time
            body = struct.pack("!HH", tid, 3) + struct.pack("!HHHHHH", 56, 6, 8, 4, 351, 8)
            sets = struct.pack("!HH", 2, 4 + len(body)) + body
        elif kind == 1:  # a bomb: 300 fields of random elements
            fields = b"".join(struct.pack("!HH", int(e), 4) for e in rng.integers(1, 500, 300))
            sets = struct.pack("!HH", 2, 8 + len(fields)) + struct.pack("!HH", tid, 300) + fields
        elif kind == 2:  # a withdrawal (field count 0)
            sets = struct.pack("!HHHH", 2, 8, tid, 0)
        else:  # data for a template that never came
            sets = struct.pack("!HH", tid, 4 + 64) + rng.bytes(64)
        message = struct.pack("!HHIII", 10, 16 + len(sets), T0, i, 7) + sets
        udp = struct.pack("!HHHH", 40000, 4739, 8 + len(message), 0) + message
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                         TEPS[2], bytes([172, 16, 9, 9]))  # fmt: skip
        out.append(bytes.fromhex("525400000909525400100003") + b"\x08\x00" + ip + udp)
    width = max(map(len, out))
    frames = np.zeros((n, width), dtype=np.uint8)
    lengths = np.array([len(f) for f in out])
    for i, f in enumerate(out):
        frames[i, : len(f)] = np.frombuffer(f, np.uint8)
    return frames, lengths


def vm1(spoof: bool) -> np.ndarray:
    """vm1 announcing 10.1.1.10 and talking from it; with `spoof`, from 10.1.1.11 instead."""
    if spoof:
        inner = framed(udp4(VM1_MAC, bytes([10, 1, 1, 11])))
        return np.frombuffer(inner, np.uint8).reshape(1, -1).copy()
    frames = [framed(arp(VM1_MAC, bytes([10, 1, 1, 10])))]
    frames += [framed(udp4(VM1_MAC, bytes([10, 1, 1, 10])))] * 9
    width = max(map(len, frames))
    return np.array([np.frombuffer(f.ljust(width, b"\0"), np.uint8) for f in frames])


def write_all(out: Path, flood_macs: int = 1_000_000) -> dict[str, Path]:
    rng = np.random.default_rng(20261128)
    names = ("flood", "bad", "clone", "ipfix", "vm1", "spoof")
    paths = {name: out / f"soak-{name}.pcap" for name in names}
    write_pcap(paths["flood"], flood(flood_macs, rng))
    frames, lengths = malformed(50_000, rng)
    write_pcap(paths["bad"], frames, lengths)
    write_pcap(paths["clone"], clone(50_000))
    frames, lengths = ipfix(20_000, rng)
    write_pcap(paths["ipfix"], frames, lengths, cut=False)
    write_pcap(paths["vm1"], vm1(spoof=False))
    write_pcap(paths["spoof"], vm1(spoof=True))
    return paths
