"""IPFIX (RFC 7011) and NetFlow v9 (RFC 3954) messages, with the template cache they need.

Every field is hostile until checked: set and record lengths are bounded by the message,
template IDs must be ≥ 256, field counts and the template cache are capped per exporter,
variable-length encodings (RFC 7011 §7) must fit, and data sets that arrive before their
template are buffered (bounded) and decoded when it comes (data may precede templates in one
message). Withdrawals (§8.1) remove one template or all. Sequence numbers (§3.1) count data
records modulo 2^32; the records a gap skipped are counted as lost.
"""

from __future__ import annotations

import struct
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from detector.decoders.ipfix import records
from detector.decoders.ipfix.elements import V9_SCOPE
from detector.decoders.ipfix.records import VARIABLE, Field, FlowSet
from detector.errors import DecodeError

MAX_TEMPLATES_PER_EXPORTER = 1024
MAX_FIELDS = 256
MAX_PENDING_SETS = 64  # data sets waiting for a template, per exporter and domain
# Whatever senders claim to be (exporter addresses and domains are free to invent), all of it
# together stays bounded: sessions, templates and buffered data across every session.
MAX_SESSIONS = 1024
MAX_TEMPLATES_TOTAL = 16384
MAX_PENDING_BYTES = 16 << 20


@dataclass(slots=True)
class Session:
    """What one (exporter, observation domain) has told us."""

    templates: OrderedDict[int, tuple[Field, ...]] = field(default_factory=OrderedDict)
    pending: list[tuple[int, bytes, int, int]] = field(default_factory=list)  # id, set, ts, seq
    next_seq: int | None = None


@dataclass(slots=True)
class Flow:
    """One decoded flow record: element name → value, and where it came from."""

    exporter: str
    domain: int
    export_time: int  # seconds since the epoch, from the message header
    values: dict[str, Any]


class IpfixDecoder:
    """Decode messages from many exporters; templates are kept per (exporter, domain)."""

    def __init__(self) -> None:
        self.sessions: dict[tuple[str, int], Session] = {}
        self.compiled: dict[tuple[Field, ...], Any] = {}  # fixed-length templates, compiled
        self.template_total = 0
        self.pending_bytes = 0
        self.stats: Counter[str] = Counter()  # records, templates, template-missing, lost, …

    def feed(self, message: bytes, exporter: str) -> list[Flow]:
        """Decode one message (one UDP payload) into flow records, one dict each."""
        return [flow for s in self.feed_sets(message, exporter) for flow in self.expand(s)]

    def expand(self, fs: FlowSet) -> list[Flow]:
        """A set's records as flows (element name → value)."""
        rows = records.expand(fs.fields, fs.body, self.compiled) if fs.size else fs.rows
        return [Flow(fs.exporter, fs.domain, fs.export_time, values) for values in rows]

    def feed_sets(self, message: bytes, exporter: str) -> list[FlowSet]:
        """Decode one message into its data sets; raise DecodeError if it is not one at all."""
        if len(message) < 4:
            raise DecodeError("ipfix", "truncated")
        version = (message[0] << 8) | message[1]
        if version == 10:
            return self._ipfix(message, exporter)
        if version == 9:
            return self._v9(message, exporter)
        raise DecodeError("ipfix", "bad-version")

    # --- RFC 7011 ------------------------------------------------------------------------
    def _ipfix(self, msg: bytes, exporter: str) -> list[FlowSet]:
        if len(msg) < 16:
            raise DecodeError("ipfix", "truncated")
        length, export_time, seq, domain = struct.unpack_from("!HIII", msg, 2)
        if length < 16 or length > len(msg):
            raise DecodeError("ipfix", "bad-message-length")
        session = self._session(exporter, domain)
        flows: list[FlowSet] = []
        pos = 16
        while pos + 4 <= length:
            set_id, set_len = struct.unpack_from("!HH", msg, pos)
            if set_len < 4 or pos + set_len > length:
                self.stats["error:bad-set-length"] += 1
                break  # the rest of the message cannot be trusted
            body = msg[pos + 4 : pos + set_len]
            if set_id in (2, 3):
                self._templates(session, body, set_id, ipfix=True)
            elif set_id >= 256:
                flows += self._data(session, set_id, body, exporter, domain, export_time, True)
            else:
                self.stats["error:reserved-set-id"] += 1
            pos += set_len
        self._sequence(session, seq, sum(map(len, flows)))
        return flows + self.replay_pending(exporter, domain)

    def _templates(self, session: Session, body: bytes, set_id: int, ipfix: bool) -> None:
        pos = 0
        while len(body) - pos >= 4:
            tid, count = struct.unpack_from("!HH", body, pos)
            pos += 4
            if count == 0:  # a withdrawal (RFC 7011 §8.1): one template, or all of them
                if not ipfix:
                    self.stats["error:empty-template"] += 1
                elif tid == set_id:
                    self.template_total -= len(session.templates)
                    session.templates.clear()
                elif session.templates.pop(tid, None) is None:
                    self.stats["error:withdraw-unknown-template"] += 1
                else:
                    self.template_total -= 1
                continue
            if tid < 256:
                self.stats["error:template-id-below-256"] += 1
                return
            scope = 0
            if set_id in (3, 1):
                if len(body) - pos < 2:
                    self.stats["error:truncated-template"] += 1
                    return
                scope = struct.unpack_from("!H", body, pos)[0]
                pos += 2
                if scope == 0 or scope > count:
                    self.stats["error:bad-scope-count"] += 1
                    return
            if count > MAX_FIELDS:
                self.stats["error:too-many-fields"] += 1
                return
            fields, pos = self._fields(body, pos, count, ipfix)
            if fields is None:
                return
            self._store(session, tid, fields)

    def _fields(self, body: bytes, pos: int, count: int, ipfix: bool) -> tuple[Any, int]:
        fields: list[Field] = []
        for _ in range(count):
            if len(body) - pos < 4:
                self.stats["error:truncated-template"] += 1
                return None, pos
            ie, flen = struct.unpack_from("!HH", body, pos)
            pos += 4
            enterprise = 0
            if ipfix and ie & 0x8000:
                if len(body) - pos < 4:
                    self.stats["error:enterprise-number-missing"] += 1
                    return None, pos
                enterprise = struct.unpack_from("!I", body, pos)[0]
                pos += 4
                ie &= 0x7FFF
            if flen == VARIABLE and not ipfix:  # v9 has no variable-length fields
                self.stats["error:bad-field-length"] += 1
                return None, pos
            fields.append((enterprise, ie, flen))
        return tuple(fields), pos

    def _store(self, session: Session, tid: int, fields: tuple[Field, ...]) -> None:
        if tid not in session.templates:
            if len(session.templates) >= MAX_TEMPLATES_PER_EXPORTER:
                session.templates.popitem(last=False)
                self.stats["templates-evicted"] += 1
            elif self.template_total >= MAX_TEMPLATES_TOTAL:
                self.stats["error:template-cache-full"] += 1
                return
            else:
                self.template_total += 1
        session.templates[tid] = fields
        session.templates.move_to_end(tid)
        self.stats["templates"] += 1

    def _data(
        self,
        session: Session,
        tid: int,
        body: bytes,
        exporter: str,
        domain: int,
        ts: int,
        ipfix: bool,
    ) -> list[FlowSet]:
        fields = session.templates.get(tid)
        if fields is None:
            self.stats["template-missing"] += 1
            fits = self.pending_bytes + len(body) <= MAX_PENDING_BYTES
            if len(session.pending) < MAX_PENDING_SETS and fits:
                session.pending.append((tid, bytes(body), ts, int(ipfix)))
                self.pending_bytes += len(body)
            else:
                self.stats["pending-dropped"] += 1
            return []
        if all(f[2] != VARIABLE for f in fields):
            whole, size = records.fixed(fields, body, self.compiled, self.stats)
            found = FlowSet(exporter, domain, ts, fields, whole, size)
        else:
            rows = tuple(records.variable(fields, body, self.stats))
            found = FlowSet(exporter, domain, ts, fields, rows=rows)
        self.stats["records"] += len(found)
        return [found] if len(found) else []

    def _session(self, exporter: str, domain: int) -> Session:
        key = (exporter, domain)
        session = self.sessions.get(key)
        if session is None:
            if len(self.sessions) >= MAX_SESSIONS:
                gone = self.sessions.pop(next(iter(self.sessions)))
                self.template_total -= len(gone.templates)
                self.pending_bytes -= sum(len(p[1]) for p in gone.pending)
                self.stats["sessions-evicted"] += 1
            session = self.sessions[key] = Session()
        return session

    def _sequence(self, session: Session, seq: int, records: int) -> None:
        if session.next_seq is not None and seq != session.next_seq:
            gap = (seq - session.next_seq) % (1 << 32)
            if gap < (1 << 31):  # behind is a reordered message, not a loss
                self.stats["lost-records"] += gap
            self.stats["sequence-gaps"] += 1
        session.next_seq = (seq + records) % (1 << 32)

    def replay_pending(self, exporter: str, domain: int) -> list[FlowSet]:
        """Decode buffered data sets whose template has arrived since (called after a message)."""
        session = self.sessions.get((exporter, domain))
        if session is None or not session.pending:
            return []
        waiting, session.pending = session.pending, []
        flows: list[FlowSet] = []
        for tid, body, ts, ipfix in waiting:
            self.pending_bytes -= len(body)
            if tid in session.templates:
                self.stats["template-missing-resolved"] += 1
                flows += self._data(session, tid, body, exporter, domain, ts, bool(ipfix))
            else:
                session.pending.append((tid, body, ts, ipfix))
                self.pending_bytes += len(body)
        return flows

    # --- RFC 3954 ------------------------------------------------------------------------
    def _v9(self, msg: bytes, exporter: str) -> list[FlowSet]:
        if len(msg) < 20:
            raise DecodeError("netflow9", "truncated")
        _count, _uptime, unix_secs, _seq, source_id = struct.unpack_from("!HIIII", msg, 2)
        session = self._session(exporter, source_id)
        flows: list[FlowSet] = []
        pos = 20
        while pos + 4 <= len(msg):
            set_id, set_len = struct.unpack_from("!HH", msg, pos)
            if set_len < 4 or pos + set_len > len(msg):
                self.stats["error:bad-set-length"] += 1
                break
            body = msg[pos + 4 : pos + set_len]
            if set_id == 0:
                self._templates(session, body, 0, ipfix=False)
            elif set_id == 1:
                self._v9_options(session, body)
            elif set_id >= 256:
                flows += self._data(session, set_id, body, exporter, source_id, unix_secs, False)
            pos += set_len
        return flows + self.replay_pending(exporter, source_id)

    def _v9_options(self, session: Session, body: bytes) -> None:
        """Options templates (RFC 3954 §6.1): scope and option lengths are in bytes."""
        if len(body) < 6:
            self.stats["error:truncated-template"] += 1
            return
        tid, scope_len, opt_len = struct.unpack_from("!HHH", body, 0)
        if tid < 256 or scope_len % 4 or opt_len % 4 or 6 + scope_len + opt_len > len(body):
            self.stats["error:bad-options-template"] += 1
            return
        count = (scope_len + opt_len) // 4
        fields, _ = self._fields(body, 6, count, ipfix=False)
        if fields is not None:  # scope fields have their own type space (System, Interface, …)
            scopes = scope_len // 4
            fields = tuple(
                (V9_SCOPE, ie, n) if i < scopes else (e, ie, n)
                for i, (e, ie, n) in enumerate(fields)
            )
            self._store(session, tid, fields)
