"""Classic libpcap files: both byte orders, microsecond and nanosecond magic, read in chunks.

Format: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html (24-byte file header,
16-byte record headers).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

from detector.errors import CaptureError
from detector.model import RecordBatch

if TYPE_CHECKING:
    from detector.sources import CaptureFile

MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),  # nanoseconds
    b"\xa1\xb2\x3c\x4d": (">", 1),
}


class Readable(Protocol):
    def read(self, n: int = -1) -> bytes: ...


def read(stream: Readable, capture: CaptureFile, where: Callable[[], int]) -> Iterator[RecordBatch]:
    """Yield batches of records from a classic pcap stream."""
    from detector.sources import MAX_RECORD_BYTES

    info = capture.info
    header = stream.read(24)
    if len(header) < 24:
        raise CaptureError(f"{info.name}: pcap file header cut short ({len(header)} of 24 bytes)")
    endian, ns_per_unit = MAGICS[header[:4]]
    linktype = struct.unpack_from(endian + "I", header, 20)[0] & 0xFFFF  # upper bits: FCS info
    rec = struct.Struct(endian + "IIII")
    number = 1
    pending = b""
    while True:
        chunk = stream.read(capture.chunk_bytes)
        if not chunk:
            break
        buf = pending + chunk if pending else chunk
        offsets: list[int] = []
        caplens: list[int] = []
        origlens: list[int] = []
        stamps: list[int] = []
        pos, end = 0, len(buf)
        while pos + 16 <= end:
            sec, frac, incl, orig = rec.unpack_from(buf, pos)
            if incl > MAX_RECORD_BYTES:
                raise CaptureError(
                    f"{info.name}: corrupt record header after packet {number + len(offsets) - 1}"
                    f" (claims {incl} bytes)"
                )
            if pos + 16 + incl > end:
                break
            offsets.append(pos + 16)
            caplens.append(incl)
            origlens.append(orig)
            stamps.append(sec * 1_000_000_000 + frac * ns_per_unit)
            pos += 16 + incl
        pending = buf[pos:]
        info.position = where()
        if offsets:
            info.records += len(offsets)
            yield RecordBatch(
                info.name,
                buf,
                offsets,
                caplens,
                origlens,
                stamps,
                [linktype] * len(offsets),
                number,
            )
            number += len(offsets)
    if pending:
        yield from _truncated_tail(pending, rec, ns_per_unit, linktype, number, capture)


def _truncated_tail(
    tail: bytes,
    rec: struct.Struct,
    ns_per_unit: int,
    linktype: int,
    number: int,
    capture: CaptureFile,
) -> Iterator[RecordBatch]:
    info = capture.info
    if len(tail) < 16:
        info.truncated = f"last record header cut short ({len(tail)} of 16 bytes)"
        return
    sec, frac, incl, orig = rec.unpack_from(tail, 0)
    have = len(tail) - 16
    info.truncated = f"packet {number} cut short ({have} of {incl} bytes); decoded what is there"
    info.records += 1
    yield RecordBatch(
        info.name,
        tail,
        [16],
        [have],
        [orig],
        [sec * 1_000_000_000 + frac * ns_per_unit],
        [linktype],
        number,
    )
