"""IPFIX data records (RFC 7011 §3.4.3): fixed-length templates through one compiled struct,
variable-length ones (§7) field by field. Every length is checked before it is used."""

from __future__ import annotations

import struct
from collections import Counter
from typing import Any

from detector.decoders.ipfix_elements import compile_fixed, decode_value, name_of

Field = tuple[int, int, int]  # (enterprise, element id, length; 65535 = variable)
VARIABLE = 0xFFFF
MAX_COMPILED = 4096


def fixed(
    fields: tuple[Field, ...],
    body: bytes,
    compiled: dict[tuple[Field, ...], Any],
    stats: Counter[str],
) -> list[dict[str, Any]]:
    """Records of a fixed-length template: one precompiled struct, no per-field walk."""
    layout = compiled.get(fields)
    if layout is None:
        if len(compiled) >= MAX_COMPILED:
            compiled.clear()
        layout = compiled[fields] = compile_fixed(fields)
    unpacker, names, convs = layout
    if unpacker.size == 0:
        stats["error:empty-record"] += 1
        return []
    whole = len(body) // unpacker.size * unpacker.size
    if any(body[whole:]):
        stats["error:nonzero-padding"] += 1
    special = [(i, c) for i, c in enumerate(convs) if c is not None]
    rows = []
    for row in unpacker.iter_unpack(body[:whole]):
        if special:
            row = list(row)
            for i, conv in special:
                row[i] = conv(row[i])
        rows.append(dict(zip(names, row, strict=True)))
    return rows


def variable(fields: tuple[Field, ...], body: bytes, stats: Counter[str]) -> list[dict[str, Any]]:
    """Records of a template with variable-length fields, one field at a time."""
    rows = []
    minimum = sum(1 if f[2] == VARIABLE else f[2] for f in fields)
    pos = 0
    while len(body) - pos >= max(minimum, 1):
        start = pos
        values, pos = _record(body, pos, fields, stats)
        if values is None or pos == start:  # a record of zero-length fields cannot advance
            break
        rows.append(values)
    if any(body[pos:]):
        stats["error:nonzero-padding"] += 1
    return rows


def _record(
    body: bytes, pos: int, fields: tuple[Field, ...], stats: Counter[str]
) -> tuple[dict[str, Any] | None, int]:
    values: dict[str, Any] = {}
    for enterprise, ie, flen in fields:
        if flen == VARIABLE:  # RFC 7011 §7: one length byte, or 255 and two more
            if pos >= len(body):
                stats["error:truncated-record"] += 1
                return None, pos
            flen, pos = body[pos], pos + 1
            if flen == 255:
                if len(body) - pos < 2:
                    stats["error:bad-variable-length"] += 1
                    return None, pos
                flen, pos = struct.unpack_from("!H", body, pos)[0], pos + 2
        if len(body) - pos < flen:
            stats["error:bad-variable-length" if flen else "error:truncated-record"] += 1
            return None, pos
        name = name_of(enterprise, ie)
        if name in values:  # an element may repeat in a template (RFC 7011 §3.4.1)
            name = f"{name}#{sum(k.split('#')[0] == name for k in values) + 1}"
        values[name] = decode_value(enterprise, ie, body[pos : pos + flen])
        pos += flen
    return values, pos
