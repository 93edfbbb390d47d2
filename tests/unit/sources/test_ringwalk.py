"""The TPACKET_V3 block walk on hand-built blocks: offsets, lengths, kernel times, VLAN tags put
back in place, and headers that point outside the block ending the walk."""

from __future__ import annotations

import struct

import numpy as np

from detector.sources import ringwalk

SIZE = 4096
FRAME = bytes.fromhex("ffffffffffff0050560000010800") + bytes(range(50))


def block(frames: list[tuple[bytes, int, int, int]]) -> np.ndarray:
    """A block (struct tpacket_block_desc) holding frames: (data, status, tci, tpid)."""
    b = bytearray(SIZE)
    struct.pack_into("<III", b, 12, len(frames), 48, SIZE)  # num_pkts, first offset, blk_len
    p = 48
    for k, (data, status, tci, tpid) in enumerate(frames):
        mac = 82  # tpacket3_hdr (48) + sockaddr_ll (20), aligned as the kernel does, + reserve
        step = 0 if k == len(frames) - 1 else (mac + len(data) + 15) // 16 * 16
        struct.pack_into("<IIIIIIHH", b, p, step, 1_767_225_600 + k, 5000 + k, len(data),
                         len(data) + 100, status, mac, mac + 14)  # fmt: skip
        struct.pack_into("<IIHH", b, p + 28, 0, tci, tpid, 0)
        b[p + mac : p + mac + len(data)] = data
        p += step
    return np.frombuffer(b, np.uint8).copy()


def walk(b: np.ndarray, room: int = 8) -> tuple[int, list[bytes], list[int], list[int], list[int]]:
    offs, caps, origs, ts = (np.zeros(room, np.int64) for _ in range(4))
    n = ringwalk.walk(b, 0, SIZE, offs, caps, origs, ts, 0)
    frames = [bytes(b[o : o + c]) for o, c in zip(offs[:n], caps[:n], strict=True)]
    return n, frames, caps[:n].tolist(), origs[:n].tolist(), ts[:n].tolist()


def test_frames_come_out_in_place_with_the_kernel_times() -> None:
    n, frames, caps, origs, ts = walk(block([(FRAME, 1, 0, 0), (FRAME[::-1], 1, 0, 0)]))
    assert n == 2 and frames == [FRAME, FRAME[::-1]]
    assert caps == [64, 64] and origs == [164, 164]  # tp_len: the frame's length on the wire
    assert ts == [1_767_225_600 * 10**9 + 5000, 1_767_225_601 * 10**9 + 5001]


def test_a_vlan_tag_the_kernel_took_off_is_put_back() -> None:
    n, frames, caps, _, _ = walk(
        block([(FRAME, 1 | 0x10, 0x200A, 0), (FRAME, 1 | 0x10 | 0x40, 7, 0x88A8)])
    )
    assert n == 2 and caps == [68, 68]
    assert frames[0] == FRAME[:12] + bytes.fromhex("8100200a") + FRAME[12:]  # PCP 1, VLAN 10
    assert frames[1] == FRAME[:12] + bytes.fromhex("88a80007") + FRAME[12:]  # 802.1ad


def test_a_header_pointing_outside_the_block_ends_its_walk() -> None:
    b = block([(FRAME, 1, 0, 0), (FRAME, 1, 0, 0)])
    struct.pack_into("<I", b, 48 + 12, SIZE)  # the first frame's snap length runs past the end
    assert walk(b)[0] == 0
    b = block([(FRAME, 1, 0, 0), (FRAME, 1, 0, 0)])
    struct.pack_into("<I", b, 48, SIZE * 2)  # its next offset jumps out of the block
    assert walk(b)[0] == 1
    assert walk(block([(FRAME, 1, 0, 0)] * 3), room=2)[0] == 2  # no more rows than room
