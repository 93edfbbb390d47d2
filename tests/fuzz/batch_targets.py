"""Fuzz target `columns`: the batch path's numba kernel against the exact decoder, one record.

The kernel decodes the common case into columns and leaves every other record to the exact
decoder (code EXACT). Whatever it does not leave, the exact decoder must decode to exactly one
frame, without an error or a skip, that says the same thing: encapsulation, VNI, tunnel
source, inner source MAC and whether the destination is unicast; for IP the source and
destination addresses and the l4 word (IP protocol, TCP flags, destination port) the
behaviour windows count; for ARP the address the learner takes, the target and the op; and
for a record the kernel says teaches nothing, that the learner takes nothing from it. This is
the differential of the `capture` target at the decoder alone, thousands of times faster.
"""

from __future__ import annotations

import functools
from typing import Any

from detector.errors import CaptureError
from detector.values import Frame

IP_CODES = (1, 2)  # columns.IPV4, columns.IPV6
ARP_LEARN, NO_CHECK = 3, 4


@functools.cache
def _tools() -> tuple[Any, Any, Any]:
    from detector.decoders.chain import Decoder
    from detector.fast.packets import columns

    decoder = Decoder()
    return decoder, columns, columns.masks(decoder.config)


def _expected(cols: Any, code: int) -> dict[str, object]:
    """What the columns say of record 0, in the exact decoder's terms."""
    from detector.fast.packets import columns
    from detector.fast.packets.kernels import ARP_BIT

    encap, vni, mac, _, ip_hi, ip_lo, outer_hi, outer_lo, unicast = (int(k[0]) for k in cols.keys)
    dst_hi, dst_lo, word = (int(d[0]) for d in cols.dst)
    out: dict[str, object] = {
        "encap": columns.ENCAP_NAMES.get(encap),
        "vni": vni,
        "outer_src": columns.ip_text(outer_hi, outer_lo),
        "src_mac": columns.mac_text(mac),
        "unicast": bool(unicast),
    }
    if code in IP_CODES:
        proto = word >> 24
        out |= {"src_ip": columns.ip_text(ip_hi, ip_lo), "dst_ip": columns.ip_text(dst_hi, dst_lo)}
        out |= {"ip_proto": proto, "l4": (proto, (word >> 16) & 0xFF, word & 0xFFFF)}
    elif code == ARP_LEARN:
        out |= {
            "learns": columns.ip_text(ip_hi, ip_lo),
            "arp_target": columns.ip_text(dst_hi, dst_lo),
        }
        out |= {"arp_op": word - int(ARP_BIT)}
    return out


def _seen(frame: Frame, code: int) -> dict[str, object]:
    """The same fields of the exact decoder's frame."""
    from detector.bindings.learn import arp_claim

    out: dict[str, object] = {
        "encap": frame.encap,
        "vni": frame.vni,
        "outer_src": frame.outer_src,
        "src_mac": frame.src_mac,
        "unicast": frame.dst_mac is not None and not int(frame.dst_mac[:2], 16) & 1,
    }
    if code in IP_CODES:
        port = frame.dst_port if frame.ip_proto in (6, 17) and frame.dst_port is not None else 0
        out |= {"src_ip": frame.src_ip, "dst_ip": frame.dst_ip, "ip_proto": frame.ip_proto}
        out |= {"l4": (frame.ip_proto, frame.tcp_flags, port)}
    elif code == ARP_LEARN and frame.arp is not None and frame.src_mac is not None:
        out |= {"learns": arp_claim(frame, frame.src_mac), "arp_target": frame.arp.target_ip}
        out |= {"arp_op": frame.arp.op}
    return out


def _teaches_nothing(frame: Frame) -> bool:
    from detector.bindings.learn import EXEMPT_SOURCES, arp_claim

    if frame.nd is not None or frame.dhcp is not None or frame.src_mac is None:
        return False
    if frame.arp is not None:
        return arp_claim(frame, frame.src_mac) is None
    return frame.src_ip is None or frame.src_ip in EXEMPT_SOURCES


def _verdict(code: int, encap: int, proto: int) -> int:
    """The kernel's decision spelled as branches: libFuzzer's coverage sees this module's
    (`make fuzz` instruments it), not numba's, so each kind of record the kernel decodes
    is kept in the corpus once reached."""
    kind = 0
    if code == 1:
        kind = 1
    elif code == 2:
        kind = 2
    elif code == ARP_LEARN:
        kind = 3
    elif code == NO_CHECK:
        kind = 4
    if encap == 2:
        kind += 10
    if proto == 6:
        kind += 100
    elif proto == 17:
        kind += 200
    return kind


def kernel_columns(data: bytes) -> tuple[int, bytes, Any]:
    """One record (its first byte the link type, as in `frame`): link type, body, columns."""
    import numpy as np

    _, cols_mod, masks = _tools()
    linktype, body = (data[0], data[1:]) if data else (1, b"")
    one = np.zeros(1, dtype=np.int64)
    size = np.array([len(body)], dtype=np.int64)
    cols = cols_mod.decode(body, one, size, np.array([linktype], dtype=np.int64), masks)
    return linktype, body, cols


def columns(data: bytes) -> None:
    """One record (its first byte the link type, as in `frame`) through both decoders."""
    from detector.values import DecodeStats, RecordBatch

    decoder = _tools()[0]
    linktype, body, cols = kernel_columns(data)
    code = int(cols.code[0])
    if code == 0:
        return  # the exact path's to handle
    _verdict(code, int(cols.encap[0]), int(cols.dst[2][0]) >> 24)
    decoder.stats = stats = DecodeStats()
    batch = RecordBatch("fuzz", body, [0], [len(body)], [len(body)], [0], [linktype], 1)
    frames = list(decoder.frames(batch))
    problem = ""
    if len(frames) != 1 or stats.errors or stats.skipped:
        problem = (
            f"{len(frames)} frames, errors {dict(stats.errors)}, skipped {dict(stats.skipped)}"
        )
    elif frames[0].oam or frames[0].nd is not None or frames[0].dhcp is not None:
        problem = f"the exact decoder sees OAM, ND or DHCP: {frames[0]}"
    elif _expected(cols, code) != _seen(frames[0], code):
        problem = f"{_expected(cols, code)}\n{_seen(frames[0], code)}"
    elif code == NO_CHECK and not _teaches_nothing(frames[0]):
        problem = f"the kernel says it teaches nothing: {frames[0]}"
    if problem:
        raise AssertionError(
            f"the batch kernel (code {code}) and the exact decoder disagree:\n{problem}"
        )


def seeds() -> list[bytes]:
    """The samples' records, and every distinct record of the real captures the kernel
    decodes itself (inner IPv6 over TCP and UDP is only there: the samples' is ND)."""
    from detector.sources.capture import CaptureFile
    from tests.conftest import real_captures
    from tests.fuzz.targets import _sample_frames

    out = [bytes([1]) + f for f in _sample_frames()]
    _, cols_mod, masks = _tools()
    for path in real_captures():
        try:
            for b in CaptureFile(str(path)).batches():
                cols = cols_mod.decode(b.buf, b.offsets, b.caplens, b.linktypes, masks)
                for i in (cols.code != 0).nonzero()[0]:
                    o, n = int(b.offsets[i]), int(b.caplens[i])
                    out.append(bytes([1]) + bytes(b.buf[o : o + n]))
        except CaptureError:
            continue
    return list(dict.fromkeys(out))
