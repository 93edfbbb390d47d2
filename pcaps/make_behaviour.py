"""Write the labelled behaviour captures in pcaps/behaviour/ with scapy: deterministic.

Run: python pcaps/make_behaviour.py [OUTDIR]. Twelve VMs on Geneve VNI 5001 behind four
hypervisors do what a small tier of web, app and database servers does: TCP sessions to their
services, DNS, ARP for the gateway and peers, IPv6 neighbour discovery, DHCP renewals, and a
nightly backup burst. `baseline.pcap.gz` (30 minutes, with two backup bursts and two DRS
vMotions) is what the model is trained on. Each other capture is three minutes of the same
background with different dice; in the attack captures one VM, staying on its own address,
attacks from 60 s to 90 s (windows 6 to 8 of ten seconds). `labels.json` names those intervals.
Filler payloads (backup, ping flood) are cut at 160 bytes, as a mirror with a snap length
would; the original length stays in the record, so bytes are counted in full.
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import struct
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z, a multiple of the ten-second window
VNI = 5001
BCAST = "ff:ff:ff:ff:ff:ff"
GW_MAC, GW_IP = "02:50:56:56:44:52", "10.1.1.1"  # NSX's distributed router
DHCPD_IP = "10.1.1.2"
DNS, BACKUP = "10.0.0.53", "10.0.9.9"
HOSTS = [f"172.16.0.{i}" for i in range(1, 5)]
VMS = [(f"00:50:56:b0:00:{i:02x}", f"10.1.1.{10 + i}") for i in range(1, 13)]
ROLES = ["web"] * 4 + ["app"] * 4 + ["db"] * 3 + ["jump"]
SERVICES = {"web": (8080, "app"), "app": (5432, "db"), "db": (873, None), "jump": (22, "web")}
ATTACKER = 3  # vm3, a web server
START, END = 60, 90  # the attack, in seconds from the start of an attack capture
CUT, SNAP = 400, 160  # a record longer than CUT keeps SNAP bytes


UNDERLAY = bytes.fromhex("5254001000025254001000010800")  # the mirror's Ethernet header


def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class Writer:
    """Records of one capture, kept in time order, written as a pcap (gzip when .gz)."""

    def __init__(self, moves: dict[int, float] | None = None) -> None:
        self.records: list[tuple[float, bytes]] = []
        self.moves = moves or {}  # vm -> when DRS moves it to the host after its own

    def host(self, t: float, vm: int) -> int:
        return (vm + (1 if t >= self.moves.get(vm, float("inf")) else 0)) % len(HOSTS)

    def send(self, t: float, vm: int, inner: Packet | bytes) -> None:
        """The inner frame in Geneve (RFC 8926) from the VM's host to another, UDP checksum 0."""
        host = self.host(t, vm)
        body = bytes(inner)
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 36 + len(body), 1, 0x4000, 64, 17, 0,
            socket.inet_aton(HOSTS[host]), socket.inet_aton(HOSTS[(host + 2) % 4]),
        )  # fmt: skip
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        udp = struct.pack("!HHHH", 49152 + vm, 6081, 16 + len(body), 0)
        geneve = struct.pack("!BBHI", 0, 0, 0x6558, VNI << 8)
        self.records.append((t, UNDERLAY + ip + udp + geneve + body))

    def write(self, path: Path) -> None:
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
        for t, data in sorted(self.records, key=lambda r: r[0]):
            sec, usec = divmod(round(t * 1e6), 1_000_000)
            kept = data if len(data) <= CUT else data[:SNAP]
            out.append(struct.pack("<IIII", sec, usec, len(kept), len(data)) + kept)
        blob = b"".join(out)
        path.write_bytes(gzip.compress(blob, mtime=0) if path.suffix == ".gz" else blob)


def eth(vm: int, dst: str = GW_MAC) -> Ether:
    return Ether(src=VMS[vm][0], dst=dst)


def tcp(vm: int, dst: str, sport: int, dport: int, flags: str, size: int = 0) -> Packet:
    body = Raw(b"\0" * size) if size else Raw(b"")
    return (
        eth(vm)
        / IP(src=VMS[vm][1], dst=dst, id=1)
        / TCP(sport=sport, dport=dport, flags=flags)
        / body
    )


def arp_request(vm: int, target: str) -> Packet:
    mac, ip = VMS[vm]
    return eth(vm, BCAST) / ARP(op=1, hwsrc=mac, psrc=ip, pdst=target)


def dhcp(vm: int, kind: str, chaddr: str) -> Packet:
    ip = VMS[vm][1]
    msg = DHCP(options=[("message-type", kind), ("server_id", DHCPD_IP), "end"])
    src = "0.0.0.0" if kind == "discover" else ip
    dst = "255.255.255.255" if kind == "discover" else DHCPD_IP
    return (
        eth(vm, BCAST if kind == "discover" else GW_MAC)
        / IP(src=src, dst=dst, id=1)
        / UDP(sport=68, dport=67)
        / BOOTP(op=1, chaddr=bytes.fromhex(chaddr.replace(":", "")), xid=0x5157, ciaddr=src)
        / msg
    )


def background(w: Writer, seconds: int, rng: random.Random) -> None:
    """What the twelve VMs do for `seconds`."""
    by_role: dict[str, list[int]] = {}
    for i, role in enumerate(ROLES):
        by_role.setdefault(role, []).append(i)
    for vm, role in enumerate(ROLES):
        rate = rng.uniform(0.15, 0.5)  # TCP sessions a second
        t = rng.uniform(0, 3)
        w.send(t, vm, arp_request(vm, GW_IP))
        while t < seconds:
            _session(w, t, vm, role, by_role, rng)
            t += rng.expovariate(rate)
        for t in _ticks(rng, seconds, 12):  # DNS
            w.send(
                t,
                vm,
                eth(vm)
                / IP(src=VMS[vm][1], dst=DNS, id=1)
                / UDP(sport=rng.randint(32768, 60999), dport=53)
                / Raw(b"q" * 30),
            )
        for t in _ticks(rng, seconds, 60):  # ARP: the gateway, now and then a peer
            target = GW_IP if rng.random() < 0.7 else VMS[rng.randrange(12)][1]
            w.send(t, vm, arp_request(vm, target))
        if vm % 3 == 0:  # dual-stack VMs: neighbour discovery
            for t in _ticks(rng, seconds, 40):
                w.send(t, vm, _ns(vm))
        for t in _ticks(rng, seconds, 300):  # DHCP renewal, unicast to the server
            w.send(t, vm, dhcp(vm, "request", VMS[vm][0]))


def _session(
    w: Writer, t: float, vm: int, role: str, by_role: dict[str, list[int]], rng: random.Random
) -> None:
    """A client session to the next tier's service; the database tier answers one instead."""
    port, tier = SERVICES[role]
    peer = rng.choice(by_role[tier]) if tier else None
    if peer is not None:
        dport = SERVICES[ROLES[peer]][0]
        sport = rng.randint(32768, 60999)
        w.send(t, vm, tcp(vm, VMS[peer][1], sport, dport, "S"))
        for k in range(rng.randint(2, 8)):
            w.send(
                t + 0.01 * (k + 1),
                vm,
                tcp(vm, VMS[peer][1], sport, dport, "PA", rng.randint(40, 300)),
            )
    else:  # the database tier answers a client on its ephemeral port
        client = rng.choice(by_role["app"])
        cport = rng.randint(32768, 60999)
        for k in range(rng.randint(2, 8)):
            w.send(
                t + 0.01 * k, vm, tcp(vm, VMS[client][1], port, cport, "PA", rng.randint(40, 600))
            )


def _ns(vm: int) -> Packet:
    mac = VMS[vm][0]
    return (
        eth(vm, "33:33:ff:00:00:01")
        / IPv6(src=f"2001:db8:1::{vm + 10:x}", dst="ff02::1:ff00:1")
        / ICMPv6ND_NS(tgt="2001:db8:1::1")
        / ICMPv6NDOptSrcLLAddr(lladdr=mac)
    )


def _ticks(rng: random.Random, seconds: int, every: float) -> list[float]:
    out, t = [], rng.uniform(0, every)
    while t < seconds:
        out.append(t)
        t += rng.uniform(0.5 * every, 1.5 * every)
    return out


def backup(w: Writer, start: float, seconds: int, rng: random.Random) -> None:
    """The nightly backup: db1 streams to the backup server at 50 packets a second."""
    vm = 8
    for k in range(seconds * 50):
        w.send(start + k / 50, vm, tcp(vm, BACKUP, 40000, 873, "PA", 1400))


def vmotion(w: Writer, vm: int) -> None:
    """DRS moves a VM (at the time in w.moves): the new host announces it by RARP, and its
    traffic leaves from there."""
    for k in range(3):
        rarp = Ether(src=VMS[vm][0], dst=BCAST, type=0x8035) / Raw(b"\0" * 28)
        w.send(w.moves[vm] + k * 0.1, vm, rarp)


ATTACKS: dict[str, Callable[[Writer, random.Random], None]] = {}


def attack(
    name: str,
) -> Callable[[Callable[[Writer, random.Random], None]], Callable[[Writer, random.Random], None]]:
    def register(
        f: Callable[[Writer, random.Random], None],
    ) -> Callable[[Writer, random.Random], None]:
        ATTACKS[name] = f
        return f

    return register


def _spread(n: int) -> list[float]:
    return [START + (END - START) * (k + 0.5) / n for k in range(n)]


@attack("arp-sweep")
def _sweep(w: Writer, rng: random.Random) -> None:
    for k, t in enumerate(_spread(254)):
        w.send(t, ATTACKER, arp_request(ATTACKER, f"10.1.1.{k + 1}"))


@attack("port-scan")
def _scan(w: Writer, rng: random.Random) -> None:
    target = VMS[9][1]
    for k, t in enumerate(_spread(1024)):
        w.send(t, ATTACKER, tcp(ATTACKER, target, 51000, k + 1, "S"))


@attack("dhcp-starvation")
def _starve(w: Writer, rng: random.Random) -> None:
    for t in _spread(300):
        fake = "02:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(5))
        w.send(t, ATTACKER, dhcp(ATTACKER, "discover", fake))


@attack("ping-flood")
def _flood(w: Writer, rng: random.Random) -> None:
    """`ping -f` at 2,000 echo requests a second: built by hand from one scapy template."""
    target = VMS[9][1]
    template = bytes(
        eth(ATTACKER)
        / IP(src=VMS[ATTACKER][1], dst=target, id=1)
        / ICMP(type=8, id=7)
        / Raw(b"\0" * 56)
    )
    for k, t in enumerate(_spread(60_000)):
        icmp = bytearray(template[34:])
        icmp[2:4], icmp[6:8] = b"\0\0", struct.pack("!H", k & 0xFFFF)
        icmp[2:4] = struct.pack("!H", _checksum(bytes(icmp)))
        w.send(t, ATTACKER, template[:34] + bytes(icmp))


@attack("fan-out")
def _fanout(w: Writer, rng: random.Random) -> None:
    for k, t in enumerate(_spread(500)):
        peer = f"10.2.{k // 250}.{k % 250 + 1}"
        w.send(t, ATTACKER, tcp(ATTACKER, peer, 52000 + k, 445, "S"))


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, list[dict[str, object]]] = {}
    w = Writer({5: 700, 10: 1500})
    rng = random.Random(1)
    background(w, 1800, rng)
    backup(w, 300, 120, rng)
    backup(w, 1200, 120, rng)
    vmotion(w, 5)
    vmotion(w, 10)
    _write(w, out / "baseline.pcap.gz")
    benign: dict[str, Callable[[Writer, random.Random], None]] = {
        "benign-quiet": lambda w, rng: None,
        "benign-vmotion": lambda w, rng: vmotion(w, ATTACKER),
        "benign-dhcp-renewal": lambda w, rng: [
            w.send(70 + vm, vm, dhcp(vm, "request", VMS[vm][0])) for vm in range(12)
        ],
        "benign-backup": lambda w, rng: backup(w, 50, 120, rng),
    }
    for seed, (name, story) in enumerate([*benign.items(), *ATTACKS.items()], start=2):
        w, rng = Writer({ATTACKER: 70} if name == "benign-vmotion" else {}), random.Random(seed)
        background(w, 180, rng)
        story(w, rng)
        file = f"{name}.pcap.gz" if name.startswith("benign") else f"attack-{name}.pcap.gz"
        _write(w, out / file)
        labels[file] = (
            []
            if name.startswith("benign")
            else [
                {
                    "attack": name,
                    "segment": f"geneve:{VNI}",
                    "mac": VMS[ATTACKER][0],
                    "start": _stamp(START),
                    "end": _stamp(END),
                }
            ]
        )
    (out / "labels.json").write_text(json.dumps({"captures": labels}, indent=1) + "\n")


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(T0 + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(w: Writer, path: Path) -> None:
    w.records = [(T0 + t, data) for t, data in w.records]
    w.write(path)
    print(f"{path}: {len(w.records)} packets", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "behaviour")
