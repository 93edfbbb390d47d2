"""Capture readers: classic pcap in both byte orders and resolutions, pcapng, gzip, truncation."""

from __future__ import annotations

import gc
import gzip
import struct
import zlib
from pathlib import Path

import pytest

from detector.errors import CaptureError
from detector.sources.capture import CaptureFile

FRAME_A = bytes(range(60))
FRAME_B = b"\xaa" * 42


def classic(
    endian: str, nanos: bool, records: list[tuple[int, int, bytes]], linktype: int = 1
) -> bytes:
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, frac, data in records:
        out += struct.pack(endian + "IIII", sec, frac, len(data), len(data)) + data
    return out


@pytest.fixture(autouse=True, params=["python walk", "compiled walk"])
def walker(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reader test runs with both record walks (the compiled one serves large files)."""
    from detector.sources import pcap

    if request.param == "compiled walk":
        monkeypatch.setattr(pcap, "FAST_WALK_BYTES", -1)


def read_all(
    path: Path, chunk: int = 1 << 20
) -> tuple[list[tuple[int, int, int, bytes]], CaptureFile]:
    cf = CaptureFile(str(path), chunk_bytes=chunk)
    out = []
    for b in cf.batches():
        for i, off in enumerate(b.offsets):
            out.append(
                (b.first_number + i, b.ts_ns[i], b.linktypes[i], b.buf[off : off + b.caplens[i]])
            )
    return out, cf


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nanos", [False, True])
def test_classic_pcap_byte_orders_and_resolutions(tmp_path: Path, endian: str, nanos: bool) -> None:
    frac = 123456789 if nanos else 123456
    p = tmp_path / "c.pcap"
    p.write_bytes(classic(endian, nanos, [(1700000000, frac, FRAME_A), (1700000001, 0, FRAME_B)]))
    records, _ = read_all(p)
    assert [(n, lt, data) for n, _, lt, data in records] == [(1, 1, FRAME_A), (2, 1, FRAME_B)]
    assert records[0][1] == 1700000000 * 10**9 + (123456789 if nanos else 123456000)


def test_records_spanning_chunks_keep_numbering(tmp_path: Path) -> None:
    p = tmp_path / "c.pcap"
    p.write_bytes(classic("<", False, [(i, 0, bytes([i]) * (50 + i)) for i in range(100)]))
    records, _ = read_all(p, chunk=97)  # smaller than most records
    assert [n for n, *_ in records] == list(range(1, 101))
    assert all(data == bytes([n - 1]) * (49 + n) for n, _, _, data in records)


@pytest.mark.parametrize("name", ["small.pcap", "small.pcap.gz"])
def test_a_small_capture_is_read_into_buffers_of_its_size(tmp_path: Path, name: str) -> None:
    """Two 2 MiB chunk buffers for a 300-byte file made every small replay (and every fuzz
    input) pay for zero-filling megabytes; the buffers are no larger than a plain file, and
    for gzip (whose inflated length is unknown) they start small."""
    import tracemalloc

    p = tmp_path / name
    data = classic("<", False, [(1, 0, FRAME_A), (2, 0, FRAME_B)] * 2)
    p.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    tracemalloc.start()
    try:
        records, _ = read_all(p, chunk=2 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [len(d) for *_, d in records] == [60, 42, 60, 42]
    assert peak < (1 << 20 if name.endswith(".gz") else 256 << 10), peak  # with zlib's own


def test_truncated_last_record_is_decoded_and_reported(tmp_path: Path) -> None:
    p = tmp_path / "t.pcap"
    p.write_bytes(classic("<", False, [(1, 0, FRAME_A), (2, 0, FRAME_B)])[:-10])
    records, cf = read_all(p)
    assert [len(d) for *_, d in records] == [60, 32]
    assert cf.info.truncated is not None and "packet 2 cut short" in cf.info.truncated


def test_gzip_is_transparent(tmp_path: Path) -> None:
    p = tmp_path / "c.pcap.gz"
    p.write_bytes(gzip.compress(classic(">", True, [(5, 6, FRAME_A)])))
    records, _ = read_all(p)
    assert records[0][3] == FRAME_A


def test_a_gzip_stream_reads_in_chunks_that_grow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .pcap.gz is read from 64 KiB chunks growing fourfold to the full chunk size, and
    yields what the plain file does (records that span the chunks included)."""
    from detector.sources import pcap

    data = classic("<", False, [(i, 0, bytes([i % 256]) * (60 + i % 1400)) for i in range(9000)])
    plain, packed = tmp_path / "c.pcap", tmp_path / "c.pcap.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data, 1))
    sizes: list[int] = []
    handed = pcap.Buffers.next

    def next_chunk(self: pcap.Buffers) -> pcap.Chunk:
        chunk = handed(self)
        sizes.append(self.size)
        return chunk

    monkeypatch.setattr(pcap.Buffers, "next", next_chunk)
    records, _ = read_all(packed, chunk=2 << 20)
    assert sizes[:5] == [64 << 10, 256 << 10, 1 << 20, 2 << 20, 2 << 20]
    assert len(data) > sum(sizes[:4])
    assert records == read_all(plain, chunk=2 << 20)[0]
    assert len(records) == 9000


def test_buffers_give_the_size_of_their_first_chunk_before_lending_it() -> None:
    """A Chunks that takes `size` and `head` when it is made (as the slot tests' FewRows
    does) saw 0 from growing Buffers, and the reader then read nothing forever."""
    from detector.sources import pcap

    grown = pcap.Buffers(2 << 20, start=64 << 10)
    assert (grown.size, grown.head) == (64 << 10, 8 << 10)
    sizes = []
    for _ in range(5):
        data, offs, *_ = grown.next()
        sizes.append(grown.size)
        assert len(data) >= grown.head + grown.size and len(offs) * 16 > grown.head + grown.size
    assert sizes == [64 << 10, 256 << 10, 1 << 20, 2 << 20, 2 << 20]
    assert pcap.Buffers(1 << 16).size == 1 << 16


def test_a_chunk_of_no_bytes_is_refused_not_read_forever(tmp_path: Path) -> None:
    from detector.sources import pcap

    class Empty:
        size = head = 0

        def next(self) -> pcap.Chunk:
            return pcap.Buffers(64).next()

    p = tmp_path / "c.pcap"
    p.write_bytes(classic("<", False, [(1, 0, FRAME_A)]))
    with pytest.raises(ValueError, match="Empty lends a chunk of 0 bytes"):
        list(CaptureFile(str(p), chunks=Empty()).batches())


GZIP_HEAD = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"


def stored_gzip_broken_in_block(k: int) -> bytes:
    """A gzip'd capture in stored (level 0) blocks, block k's length complement corrupted."""
    data = bytearray(gzip.compress(classic("<", False, [(i, 0, FRAME_A) for i in range(3000)]), 0))
    at = len(GZIP_HEAD)
    for _ in range(k - 1):
        at += 5 + int.from_bytes(data[at + 1 : at + 3], "little")
    data[at + 3] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"hello, this is text\n", "not a pcap, pcapng or IPFIX message file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "file header cut short"),
        (gzip.compress(b"not a capture either"), "not a pcap, pcapng or IPFIX message file"),
        (b"\x1f\x8b\x08\x00garbage", "bad.pcap: corrupt gzip stream"),
        # a stored deflate block whose length and its complement disagree: zlib.error
        (GZIP_HEAD + b"\x01\x00\x00\x00\x00", "bad.pcap: corrupt gzip stream: .*stored block"),
        (stored_gzip_broken_in_block(2), "bad.pcap: read failed: .*stored block"),
    ],
)
def test_unreadable_input_is_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "bad.pcap"
    p.write_bytes(content)
    with pytest.raises(CaptureError, match=message):
        read_all(p)


@pytest.mark.parametrize("failure", ["cut short", "corrupt block"])
def test_a_failing_gzip_stream_gives_the_records_before_the_failure(
    tmp_path: Path, failure: str
) -> None:
    """A .pcap.gz copied while still being written: the records before the cut are read, the
    same ones whatever the chunk size (the reader fuzz target found one chunk losing them all),
    and the failure is still an error. A corrupt block also costs what gzip inflated of it in
    its last step (INFLATE_STEP at most)."""
    from detector.sources.capture import INFLATE_STEP

    records = [(i, 0, FRAME_A) for i in range(3000)]
    if failure == "cut short":
        whole = gzip.compress(classic("<", False, records))
        content, why, lost = whole[: len(whole) * 6 // 10], "Compressed file ended", 0
    else:
        content, why, lost = stored_gzip_broken_in_block(3), "stored block", INFLATE_STEP
    p = tmp_path / "cut.pcap.gz"
    p.write_bytes(content)
    counts = []
    for chunk in (1 << 20, 1024, 70):
        got = []
        with pytest.raises(CaptureError, match=f"read failed: .*{why}.*the records before it"):
            for b in CaptureFile(str(p), chunk_bytes=chunk).batches():
                got.extend(
                    bytes(b.buf[o : o + c]) for o, c in zip(b.offsets, b.caplens, strict=True)
                )
        assert got == [FRAME_A] * len(got)
        counts.append(len(got))
    assert counts[0] == counts[1] == counts[2], counts
    most = (len(inflatable(content)) - 24) // (16 + len(FRAME_A))
    assert most - lost // (16 + len(FRAME_A)) - 1 <= counts[0] <= most, (counts[0], most)
    assert counts[0] > 1000


def test_a_failing_gzip_stream_leaves_no_garbage_cycles(tmp_path: Path) -> None:
    """The failure kept for the end of the read holds no frames: they held the stream and its
    chunk buffers in a cycle, and the reader fuzz target's RSS grew past 2 GiB."""
    whole = gzip.compress(classic("<", False, [(i, 0, FRAME_A) for i in range(3000)]))
    p = tmp_path / "cut.pcap.gz"
    p.write_bytes(whole[: len(whole) // 2])
    gc.collect()
    try:
        for _ in CaptureFile(str(p)).batches():
            pass
    except CaptureError:
        pass
    assert gc.collect() == 0


def inflatable(content: bytes) -> bytes:
    """What zlib inflates of a gzip stream before it fails, fed a byte at a time (a call that
    fails loses its output: one byte's worth)."""
    z, out = zlib.decompressobj(wbits=31), bytearray()
    for at in range(len(content)):
        try:
            out += z.decompress(content[at : at + 1])
        except zlib.error:
            break
    return bytes(out)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="cannot open"):
        read_all(tmp_path / "nope.pcap")


@pytest.mark.parametrize("chunk", [1 << 20, 70], ids=["one chunk", "a chunk a record"])
def test_corrupt_record_length_stops_with_error(tmp_path: Path, chunk: int) -> None:
    """The records before a corrupt header are delivered, wherever the chunks begin (the
    reader fuzz target found them lost when they shared a chunk with it)."""
    data = bytearray(classic("<", False, [(1, 0, FRAME_A), (2, 0, FRAME_B)]))
    struct.pack_into("<I", data, 24 + 16 + 60 + 8, 0x7FFFFFFF)
    p = tmp_path / "corrupt.pcap"
    p.write_bytes(bytes(data))
    cf = CaptureFile(str(p), chunk_bytes=chunk)
    got = []
    with pytest.raises(CaptureError, match="corrupt record header after packet 1"):
        for b in cf.batches():
            got.extend(bytes(b.buf[o : o + c]) for o, c in zip(b.offsets, b.caplens, strict=True))
    assert got == [FRAME_A]
    assert cf.info.records == 1


# ---- pcapng (draft-ietf-opsawg-pcapng)


def block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack(endian + "II", btype, total) + body + struct.pack(endian + "I", total)


def shb(endian: str) -> bytes:
    return block(endian, 0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(endian: str, linktype: int, tsresol: int | None = None) -> bytes:
    body = struct.pack(endian + "HHI", linktype, 0, 0)
    if tsresol is not None:
        body += struct.pack(endian + "HHB3x", 9, 1, tsresol) + struct.pack(endian + "HH", 0, 0)
    return block(endian, 1, body)


def epb(endian: str, iface: int, ts: int, data: bytes) -> bytes:
    head = struct.pack(endian + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
    return block(endian, 6, head + data)


def test_pcapng_sections_interfaces_resolutions(tmp_path: Path) -> None:
    content = (
        shb("<")
        + idb("<", 1)  # microseconds by default
        + idb("<", 101, tsresol=9)  # raw IP, nanoseconds
        + block("<", 0x0BAD, b"unknown block, skipped")
        + epb("<", 0, 1_000_000, FRAME_A)
        + epb("<", 1, 2_000_000_000, FRAME_B)
        + shb(">")  # a new section, other byte order, interfaces start over
        + idb(">", 113, tsresol=0x80 | 10)  # 2^-10 s
        + epb(">", 0, 1024, FRAME_A)
        + block(">", 3, struct.pack(">I", len(FRAME_B)) + FRAME_B)  # simple packet block
    )
    p = tmp_path / "multi.pcapng"
    p.write_bytes(content)
    records, _ = read_all(p)
    assert [(n, ts, lt, d) for n, ts, lt, d in records] == [
        (1, 1_000_000_000, 1, FRAME_A),
        (2, 2_000_000_000, 101, FRAME_B),
        (3, 1_000_000_000, 113, FRAME_A),
        (4, 0, 113, FRAME_B),
    ]


def test_pcapng_truncated_last_packet(tmp_path: Path) -> None:
    p = tmp_path / "t.pcapng"
    p.write_bytes((shb("<") + idb("<", 1) + epb("<", 0, 5, FRAME_A))[:-20])
    records, cf = read_all(p)
    assert len(records) == 1 and records[0][3] == FRAME_A[:44]
    assert cf.info.truncated is not None


def test_pcapng_packet_for_undescribed_interface(tmp_path: Path) -> None:
    p = tmp_path / "bad.pcapng"
    p.write_bytes(shb("<") + idb("<", 1) + epb("<", 3, 5, FRAME_A))
    with pytest.raises(CaptureError, match="interface 3"):
        read_all(p)
