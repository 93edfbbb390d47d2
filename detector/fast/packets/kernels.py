"""The numba kernels behind the packet columns (RFC 8926 Geneve, RFC 7348 VXLAN, RFC 826)."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from detector.jit import CACHE

V4_MARK = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
ARP_BIT = np.uint64(1 << 40)  # the l4 word of an ARP frame: ARP_BIT | op


@numba.njit(cache=CACHE, nogil=True)
def u16(b: Any, i: Any) -> Any:
    return (np.int64(b[i]) << 8) | np.int64(b[i + 1])


@numba.njit(cache=CACHE, nogil=True)
def u64(b: Any, i: Any, n: int) -> Any:
    v = np.uint64(0)
    for k in range(n):
        v = (v << np.uint64(8)) | np.uint64(b[i + k])
    return v


@numba.njit(cache=CACHE, nogil=True)
def ip_header(b: Any, off: Any, end: Any, et: Any) -> Any:
    """Return (l4 offset, l4 end, proto, src offset), or l4 offset -1 for the exact path."""
    if et == 0x0800:
        if end - off < 20 or b[off] >> 4 != 4:
            return -1, 0, 0, 0
        ihl = np.int64(b[off] & 0x0F) * 4
        if ihl < 20 or end - off < ihl:
            return -1, 0, 0, 0
        total = u16(b, off + 2)
        if total < ihl:
            if total != 0:
                return -1, 0, 0, 0
            total = end - off
        if u16(b, off + 6) & 0x1FFF:
            return -1, 0, 0, 0  # a later fragment
        return off + ihl, min(end, off + total), np.int64(b[off + 9]), off + 12
    if end - off < 40 or b[off] >> 4 != 6:
        return -1, 0, 0, 0
    plen = u16(b, off + 4)
    stop = min(end, off + 40 + plen) if plen else end
    return off + 40, stop, np.int64(b[off + 6]), off + 8


@numba.njit(cache=CACHE, nogil=True)
def tags(b: Any, pos: Any, end: Any, et: Any) -> Any:
    n = 0
    while et == 0x8100 or et == 0x88A8 or et == 0x9100:
        if n == 2 or end - pos < 4:
            return -1, 0
        et = u16(b, pos + 2)
        pos += 4
        n += 1
    return pos, et


@numba.njit(cache=CACHE, nogil=True)
def kernel(
    b: Any,
    offs: Any,
    caps: Any,
    links: Any,
    gports: Any,
    vports: Any,
    eports: Any,
    code: Any,
    encap: Any,
    vni: Any,
    mac: Any,
    ip_hi: Any,
    ip_lo: Any,
    outer_hi: Any,
    outer_lo: Any,
    unicast: Any,
    dst_hi: Any,
    dst_lo: Any,
    l4word: Any,
) -> None:
    """Fill the key columns of each record (code 0: the exact path), the inner destination (IP
    destination, ARP target) and the l4 word (ARP_BIT | op; or IP protocol << 24 | TCP flags
    << 16 | destination port, RFC 9293 and RFC 768) that the timeline and behaviour count."""
    for r in range(offs.shape[0]):
        code[r] = 0
        if links[r] != 1:
            continue
        off = np.int64(offs[r])
        end = off + np.int64(caps[r])
        if end - off < 14:
            continue
        pos, et = tags(b, off + 14, end, u16(b, off + 12))
        if pos < 0 or (et != 0x0800 and et != 0x86DD):
            continue
        l4, stop, proto, src = ip_header(b, pos, end, et)
        if l4 < 0 or proto != 17 or stop - l4 < 8:
            continue
        ulen = u16(b, l4 + 4)
        if ulen and ulen < 8:
            continue
        if ulen:
            stop = min(stop, l4 + ulen)
        dport = u16(b, l4 + 2)
        t = l4 + 8
        if gports[dport]:
            if stop - t < 8 or b[t] >> 6 != 0 or b[t + 1] & 0x80:
                continue  # bad version, or an OAM frame
            payload = t + 8 + np.int64(b[t] & 0x3F) * 4
            if payload > stop or u16(b, t + 2) != 0x6558:
                continue
            p = t + 8
            while p < payload:
                if payload - p < 4:
                    break
                p += 4 + np.int64(b[p + 3] & 0x1F) * 4
            if p != payload:
                continue  # an option overruns the option area
            encap[r] = 1
        elif vports[dport]:
            if stop - t < 8 or not b[t] & 0x08:
                continue
            payload = t + 8
            encap[r] = 2
        else:
            continue
        vni[r] = (np.int64(b[t + 4]) << 16) | (np.int64(b[t + 5]) << 8) | np.int64(b[t + 6])
        if et == 0x0800:
            outer_hi[r] = V4_MARK
            outer_lo[r] = u64(b, src, 4)
        else:
            outer_hi[r] = u64(b, src, 8)
            outer_lo[r] = u64(b, src + 8, 8)
            if outer_hi[r] == V4_MARK:
                continue  # ffff:ffff:ffff:ffff::/64 would read as IPv4 in these words: exact
        # the inner frame
        if stop - payload < 14 or b[payload + 6] & 1:
            continue  # truncated, or a group source MAC
        unicast[r] = not b[payload] & 1
        mac[r] = u64(b, payload + 6, 6)
        ipos, iet = tags(b, payload + 14, stop, u16(b, payload + 12))
        if ipos < 0:
            continue
        if iet == 0x0806:
            if stop - ipos < 8:
                continue
            if (
                u16(b, ipos) != 1
                or u16(b, ipos + 2) != 0x0800
                or b[ipos + 4] != 6
                or b[ipos + 5] != 4
            ):
                code[r] = 4  # not Ethernet/IPv4 ARP: teaches nothing
                continue
            if stop - ipos < 28:
                continue
            op = u16(b, ipos + 6)
            l4word[r] = ARP_BIT | np.uint64(op)
            sender_ip = u64(b, ipos + 14, 4)
            dst_hi[r] = V4_MARK
            dst_lo[r] = u64(b, ipos + 24, 4)
            if (op == 1 or op == 2) and u64(b, ipos + 8, 6) == mac[r] and sender_ip != 0:
                ip_hi[r] = V4_MARK
                ip_lo[r] = sender_ip
                code[r] = 3
            else:
                code[r] = 4
            continue
        if iet != 0x0800 and iet != 0x86DD:
            code[r] = 4
            continue
        il4, istop, iproto, isrc = ip_header(b, ipos, stop, iet)
        if il4 < 0:
            continue
        if iet == 0x86DD and iproto != 6 and iproto != 17:
            continue  # ICMPv6 (neighbour discovery) and extension headers: exact path
        if iet == 0x0800 and iproto == 47:
            continue  # GRE inside: maybe a nested mirror
        if iproto == 17:
            if istop - il4 < 8:
                continue
            ilen = u16(b, il4 + 4)
            sport, idport = u16(b, il4), u16(b, il4 + 2)
            if (
                (ilen and ilen < 8)
                or eports[idport]
                or sport == 67
                or sport == 68
                or idport == 67
                or idport == 68
            ):
                continue  # malformed, a nested tunnel, or DHCP
        word = np.uint64(iproto) << np.uint64(24)
        if iproto == 6 and istop - il4 >= 14:
            word |= (np.uint64(b[il4 + 13]) << np.uint64(16)) | np.uint64(u16(b, il4 + 2))
        elif iproto == 17:
            word |= np.uint64(u16(b, il4 + 2))
        l4word[r] = word
        if iet == 0x0800:
            ip_hi[r] = V4_MARK
            ip_lo[r] = u64(b, isrc, 4)
            dst_hi[r] = V4_MARK
            dst_lo[r] = u64(b, isrc + 4, 4)
            code[r] = 1 if ip_lo[r] != 0 else 4
        else:
            ip_hi[r] = u64(b, isrc, 8)
            ip_lo[r] = u64(b, isrc + 8, 8)
            dst_hi[r] = u64(b, isrc + 16, 8)
            dst_lo[r] = u64(b, isrc + 24, 8)
            if ip_hi[r] == V4_MARK or dst_hi[r] == V4_MARK:
                continue  # as for the outer source: the exact path's
            code[r] = 2 if (ip_hi[r] | ip_lo[r]) != 0 else 4


@numba.njit(cache=CACHE, nogil=True)
def mix(keys: Any, out: Any, seed: Any) -> None:
    """Each key column's 64-bit hash, keyed by a random `seed`; high bits fold down each round."""
    for r in range(keys.shape[1]):
        h = seed ^ (keys[2, r] << np.uint64(16)) ^ (keys[1, r] * np.uint64(4) + keys[0, r])
        for c in range(3, 9):
            h = (h ^ keys[c, r]) * np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
        h = (h ^ (h >> np.uint64(32))) * np.uint64(0xD6E8FEB86659FD93)
        out[r] = h ^ (h >> np.uint64(32))


@numba.njit(cache=CACHE, nogil=True)
def shards(keys: Any, k: Any, n: Any, mix: Any, other: Any, counts: Any) -> Any:
    """Mark other[r] for each decoded record (code not EXACT) whose segment is not in shard k
    of n (detector.shards: a multiplicative hash of encap and VNI); count them by encap."""
    total = 0
    for r in range(keys.shape[1]):
        if keys[3, r] == 0:
            continue
        seg = (keys[0, r] << np.uint64(24)) | keys[1, r]
        if ((seg * mix) >> np.uint64(32)) % np.uint64(n) + np.uint64(1) != np.uint64(k):
            other[r] = True
            counts[keys[0, r]] += 1
            total += 1
    return total


@numba.njit(cache=CACHE, nogil=True)
def by_encap(encap: Any, take: Any, counts: Any) -> Any:
    """Count the taken records by encapsulation; return how many were taken."""
    total = 0
    for r in range(len(take)):
        if take[r]:
            counts[encap[r]] += 1
            total += 1
    return total
