"""pcapng files: SHB/IDB/EPB/SPB (and the obsolete PB), several sections and interfaces.

Format: draft-ietf-opsawg-pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html).
Each interface keeps its own link type and timestamp resolution; unknown blocks are skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from detector.errors import CaptureError
from detector.values import RecordBatch

if TYPE_CHECKING:
    from detector.sources.capture import CaptureFile
    from detector.sources.pcap import Readable

SHB, IDB, OPB, SPB, EPB = 0x0A0D0D0A, 1, 2, 3, 6
BOM_LE = b"\x4d\x3c\x2b\x1a"
BOM_BE = b"\x1a\x2b\x3c\x4d"


@dataclass(slots=True)
class _Interface:
    linktype: int
    snaplen: int
    resol: int = 6  # if_tsresol: 10^-6 by default
    offset_ns: int = 0

    def ns(self, units: int) -> int:
        if self.resol & 0x80:
            return int((units * 1_000_000_000) >> (self.resol & 0x7F)) + self.offset_ns
        exp = self.resol
        if exp <= 9:
            return int(units * 10 ** (9 - exp)) + self.offset_ns
        return int(units // 10 ** (exp - 9)) + self.offset_ns


@dataclass(slots=True)
class _Section:
    endian: str = "<"
    interfaces: list[_Interface] | None = None


def _parse_idb(buf: bytes, pos: int, total: int, endian: str) -> _Interface:
    linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", buf, pos + 8)
    iface = _Interface(linktype, snaplen)
    opt, end = pos + 16, pos + total - 4
    while opt + 4 <= end:
        code, length = struct.unpack_from(endian + "HH", buf, opt)
        if code == 0:
            break
        value = opt + 4
        if value + length > end:
            break
        if code == 9 and length >= 1:
            iface.resol = buf[value]
        elif code == 14 and length >= 8:
            iface.offset_ns = struct.unpack_from(endian + "q", buf, value)[0] * 1_000_000_000
        opt = value + ((length + 3) & ~3)
    return iface


class _Batch:
    """Columns of one batch under construction."""

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.caplens: list[int] = []
        self.origlens: list[int] = []
        self.stamps: list[int] = []
        self.linktypes: list[int] = []

    def add(self, off: int, cap: int, orig: int, ts: int, linktype: int) -> None:
        self.offsets.append(off)
        self.caplens.append(cap)
        self.origlens.append(orig)
        self.stamps.append(ts)
        self.linktypes.append(linktype)

    def build(self, name: str, buf: bytes, number: int) -> RecordBatch:
        return RecordBatch.of(
            name,
            buf,
            self.offsets,
            self.caplens,
            self.origlens,
            self.stamps,
            self.linktypes,
            number,
        )


def _packet(
    buf: bytes, pos: int, total: int, btype: int, sec: _Section, name: str, out: _Batch
) -> None:
    e = sec.endian
    ifaces = sec.interfaces or []
    body_end = pos + total - 4
    if btype == EPB:
        iface_id, hi, lo, cap, orig = struct.unpack_from(e + "IIIII", buf, pos + 8)
        data = pos + 28
    elif btype == OPB:
        iface_id, _drops, hi, lo, cap, orig = struct.unpack_from(e + "HHIIII", buf, pos + 8)
        data = pos + 28
    else:  # SPB: interface 0, no timestamp
        iface_id, hi, lo = 0, 0, 0
        orig = struct.unpack_from(e + "I", buf, pos + 8)[0]
        data = pos + 12
        cap = min(orig, body_end - data)
        if ifaces and ifaces[0].snaplen:
            cap = min(cap, ifaces[0].snaplen)
    if iface_id >= len(ifaces):
        raise CaptureError(f"{name}: packet refers to interface {iface_id}, never described")
    cap = max(0, min(cap, body_end - data))
    iface = ifaces[iface_id]
    ts = iface.ns((hi << 32) | lo) if btype != SPB else 0
    out.add(data, cap, orig, ts, iface.linktype)


def read(stream: Readable, capture: CaptureFile, where: Callable[[], int]) -> Iterator[RecordBatch]:
    """Yield batches of packet records from a pcapng stream."""
    from detector.sources.capture import MAX_RECORD_BYTES

    info = capture.info
    sec = _Section()
    number = 1
    pending = b""
    while True:
        chunk = stream.read(capture.chunk_bytes)
        if not chunk:
            break
        buf = pending + chunk if pending else chunk
        out = _Batch()
        pos, end = 0, len(buf)
        while pos + 12 <= end:
            btype = struct.unpack_from(sec.endian + "I", buf, pos)[0]
            if btype == SHB:
                bom = buf[pos + 8 : pos + 12]
                if bom not in (BOM_LE, BOM_BE):
                    raise CaptureError(f"{info.name}: bad pcapng byte-order magic {bom.hex()}")
                sec = _Section("<" if bom == BOM_LE else ">", [])
            total = struct.unpack_from(sec.endian + "I", buf, pos + 4)[0]
            if total < 12 or total % 4 or total > MAX_RECORD_BYTES:
                raise CaptureError(
                    f"{info.name}: corrupt pcapng block at packet {number + len(out.offsets)}"
                    f" (length {total})"
                )
            if pos + total > end:
                break
            if sec.interfaces is None:
                raise CaptureError(f"{info.name}: pcapng block before any section header")
            if btype == IDB:
                sec.interfaces.append(_parse_idb(buf, pos, total, sec.endian))
            elif btype in (EPB, OPB, SPB):
                _packet(buf, pos, total, btype, sec, info.name, out)
            pos += total
        pending = buf[pos:]
        info.position = where()
        if out.offsets:
            info.records += len(out.offsets)
            yield out.build(info.name, buf, number)
            number += len(out.offsets)
    if pending:
        yield from _truncated_tail(pending, sec, capture, number)


def _truncated_tail(
    tail: bytes, sec: _Section, capture: CaptureFile, number: int
) -> Iterator[RecordBatch]:
    info = capture.info
    btype = struct.unpack_from(sec.endian + "I", tail, 0)[0] if len(tail) >= 4 else -1
    if btype in (EPB, OPB) and len(tail) >= 28 and sec.interfaces:
        out = _Batch()
        total = len(tail) + 4  # pretend the block ends where the file does
        _packet(tail + b"\0\0\0\0", 0, total, btype, sec, info.name, out)
        info.truncated = f"packet {number} cut short at the end of the file; decoded what is there"
        info.records += 1
        yield out.build(info.name, tail + b"\0\0\0\0", number)
    else:
        info.truncated = f"last block cut short ({len(tail)} bytes at the end of the file)"
