"""IPFIX data records (RFC 7011 §3.4.3): fixed-length templates as columns or one compiled struct,
variable-length ones (§7) field by field. Every length is checked before it is used."""

from __future__ import annotations

import functools
import struct
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.decoders.ipfix.elements import compile_fixed, decode_value, name_of

Field = tuple[int, int, int]  # (enterprise, element id, length; 65535 = variable)
VARIABLE = 0xFFFF
MAX_COMPILED = 4096


@dataclass(frozen=True, slots=True)
class FlowSet:
    """The records of one data set (RFC 7011 §3.3.2), where they came from and their template.

    A fixed-length template's records stay as bytes, `size` each, read as numpy columns by
    `columns()` (or expanded to dicts one at a time); a variable-length template's records are
    decoded on arrival into `rows`.
    """

    exporter: str
    domain: int
    export_time: int  # seconds since the epoch, from the message header
    fields: tuple[Field, ...]
    body: bytes = b""  # whole records only
    size: int = 0  # record length of a fixed-length template, 0 for a variable one
    rows: tuple[dict[str, Any], ...] = ()

    def __len__(self) -> int:
        return len(self.body) // self.size if self.size else len(self.rows)

    def columns(self) -> npt.NDArray[np.void]:
        """The records as a structured array: one column per element, integers big-endian."""
        return np.frombuffer(self.body, dtype=record_dtype(self.fields))


@functools.lru_cache(maxsize=1024)
def record_dtype(fields: tuple[Field, ...]) -> np.dtype[np.void]:
    """The numpy layout of a fixed-length template's record (names as in the flow dicts)."""
    names = compile_fixed(fields)[1]
    kinds = [f">u{n}" if n in (1, 2, 4, 8) else f"V{n}" for _, _, n in fields]
    return np.dtype({"names": names, "formats": kinds})


def layout(fields: tuple[Field, ...], compiled: dict[tuple[Field, ...], Any]) -> Any:
    """The compiled struct, names and converters of a fixed-length template (cached)."""
    found = compiled.get(fields)
    if found is None:
        if len(compiled) >= MAX_COMPILED:
            compiled.clear()
        found = compiled[fields] = compile_fixed(fields)
    return found


def fixed(
    fields: tuple[Field, ...],
    body: bytes,
    compiled: dict[tuple[Field, ...], Any],
    stats: Counter[str],
) -> tuple[bytes, int]:
    """The whole records of a fixed-length template's set and their size; padding checked."""
    size = int(layout(fields, compiled)[0].size)
    if size == 0:
        stats["error:empty-record"] += 1
        return b"", 0
    whole = len(body) // size * size
    if any(body[whole:]):
        stats["error:nonzero-padding"] += 1
    return body[:whole], size


def expand(
    fields: tuple[Field, ...], records: bytes, compiled: dict[tuple[Field, ...], Any]
) -> list[dict[str, Any]]:
    """Fixed-length records as dicts: one precompiled struct, no per-field walk."""
    unpacker, names, convs = layout(fields, compiled)
    special = [(i, c) for i, c in enumerate(convs) if c is not None]
    rows = []
    for row in unpacker.iter_unpack(records):
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
