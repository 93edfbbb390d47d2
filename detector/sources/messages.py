"""Raw IPFIX message files (RFC 7011 §3.1: messages back to back, each with its length).

Each message is wrapped in a synthetic Ethernet/IPv4/UDP header to the IPFIX port, so it takes
the same decoding path as IPFIX inside a capture; the exporter is unknown and named 0.0.0.0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from detector.errors import CaptureError
from detector.sources.udp import outer_header
from detector.values import LINKTYPE_ETHERNET, RecordBatch

if TYPE_CHECKING:
    from detector.sources.capture import CaptureFile
    from detector.sources.pcap import Readable

IPFIX_PORT = 4739


def read(stream: Readable, capture: CaptureFile) -> Iterator[RecordBatch]:
    data = stream.read(-1)
    buf = bytearray()
    offsets: list[int] = []
    lengths: list[int] = []
    pos = 0
    while pos + 4 <= len(data):
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if data[pos : pos + 2] != b"\x00\x0a" or length < 16 or pos + length > len(data):
            raise CaptureError(
                f"{capture.info.name}: IPFIX message {len(offsets) + 1} is malformed"
                f" (at byte {pos}); the file is not a stream of IPFIX messages"
            )
        header = outer_header("0.0.0.0", "0.0.0.0", IPFIX_PORT, length)
        assert header is not None
        offsets.append(len(buf))
        buf += header + data[pos : pos + length]
        lengths.append(len(header) + length)
        pos += length
    if pos != len(data):
        capture.info.truncated = f"{len(data) - pos} bytes after the last whole message"
    capture.info.records = len(offsets)
    if offsets:
        yield RecordBatch.of(
            capture.info.name,
            bytes(buf),
            offsets,
            lengths,
            lengths,
            [0] * len(offsets),
            [LINKTYPE_ETHERNET] * len(offsets),
            1,
        )
