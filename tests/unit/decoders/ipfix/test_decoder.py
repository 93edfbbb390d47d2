"""IPFIX (RFC 7011) and NetFlow v9 (RFC 3954): templates, data, withdrawals, hostile input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.decoders.ipfix import decoder as ipx
from detector.decoders.ipfix.decoder import IpfixDecoder
from detector.decoders.ipfix.observations import flow_frame
from detector.errors import DecodeError

# template 256: sourceIPv4Address(8) 4, sourceMacAddress(56) 6, octetDeltaCount(1) 4,
# layer2SegmentId(351) 8, VMware tenantSourceIPv4 (PEN 6876, IE 881) 4, virtualObsID 898 variable
FIELDS = (
    struct.pack("!HHHHHH", 8, 4, 56, 6, 1, 4)
    + struct.pack("!HH", 351, 8)
    + struct.pack("!HHI", 0x8000 | 881, 4, 6876)
    + struct.pack("!HHI", 0x8000 | 898, 0xFFFF, 6876)
)
TEMPLATE = struct.pack("!HH", 256, 6) + FIELDS


def record(src: str = "10.0.0.1", tenant: str = "10.1.1.10", obs: bytes = b"port-1") -> bytes:
    ip = bytes(map(int, src.split(".")))
    mac = bytes.fromhex("005056a10001")
    segment = (0x07 << 56) | 5001  # Geneve, VNI 5001
    tip = bytes(map(int, tenant.split(".")))
    return ip + mac + struct.pack("!IQ", 1500, segment) + tip + bytes([len(obs)]) + obs


def ipfix_set(set_id: int, body: bytes) -> bytes:
    return struct.pack("!HH", set_id, 4 + len(body)) + body


def message(*sets: bytes, seq: int = 0, domain: int = 1) -> bytes:
    body = b"".join(sets)
    return struct.pack("!HHIII", 10, 16 + len(body), 1_767_225_600, seq, domain) + body


def test_template_then_data_in_one_message() -> None:
    d = IpfixDecoder()
    flows = d.feed(
        message(ipfix_set(2, TEMPLATE), ipfix_set(256, record() + record("10.0.0.2"))), "h1"
    )
    assert [f.values["sourceIPv4Address"] for f in flows] == ["10.0.0.1", "10.0.0.2"]
    v = flows[0].values
    assert (
        v["sourceMacAddress"],
        v["octetDeltaCount"],
        v["tenantSourceIPv4"],
        v["virtualObsID"],
    ) == ("00:50:56:a1:00:01", 1500, "10.1.1.10", "port-1")
    frame = flow_frame(flows[0], 1)
    assert frame is not None
    assert (frame.encap, frame.vni, frame.src_mac, frame.src_ip, frame.origin) == (
        "geneve",
        5001,
        "00:50:56:a1:00:01",
        "10.1.1.10",
        "ipfix:h1/1",
    )


def test_data_before_template_is_buffered_then_decoded() -> None:
    d = IpfixDecoder()
    assert d.feed(message(ipfix_set(256, record())), "h1") == []
    assert d.stats["template-missing"] == 1
    flows = d.feed(message(ipfix_set(2, TEMPLATE), seq=1), "h1")
    assert len(flows) == 1 and d.stats["template-missing-resolved"] == 1
    # the same in one message: data first, then its template
    d = IpfixDecoder()
    assert len(d.feed(message(ipfix_set(256, record()), ipfix_set(2, TEMPLATE)), "h1")) == 1


def test_templates_are_per_exporter_and_domain() -> None:
    d = IpfixDecoder()
    d.feed(message(ipfix_set(2, TEMPLATE), domain=1), "h1")
    assert d.feed(message(ipfix_set(256, record()), domain=2), "h1") == []
    assert d.feed(message(ipfix_set(256, record()), domain=1), "h2") == []
    assert len(d.feed(message(ipfix_set(256, record()), domain=1), "h1")) == 1


def test_withdrawals() -> None:
    d = IpfixDecoder()
    d.feed(message(ipfix_set(2, TEMPLATE)), "h1")
    d.feed(message(ipfix_set(2, struct.pack("!HH", 256, 0))), "h1")  # withdraw 256
    assert d.feed(message(ipfix_set(256, record())), "h1") == []
    d.feed(message(ipfix_set(2, struct.pack("!HH", 300, 0))), "h1")  # unknown: counted
    assert d.stats["error:withdraw-unknown-template"] == 1
    d.feed(message(ipfix_set(2, TEMPLATE + struct.pack("!HH", 2, 0))), "h1")  # define, withdraw all
    assert d.sessions[("h1", 1)].templates == {}


def test_variable_length_long_form_and_lies() -> None:
    d = IpfixDecoder()
    long_obs = b"x" * 300
    rec = record(obs=b"")[:-1] + b"\xff" + struct.pack("!H", 300) + long_obs
    flows = d.feed(message(ipfix_set(2, TEMPLATE), ipfix_set(256, rec)), "h1")
    assert flows[0].values["virtualObsID"] == "x" * 300
    lying = record(obs=b"")[:-1] + b"\xff" + struct.pack("!H", 9000) + b"short"
    assert d.feed(message(ipfix_set(256, lying), seq=1), "h1") == []
    assert d.stats["error:bad-variable-length"] == 1


def test_sequence_gaps_count_lost_records_modulo_2_32() -> None:
    d = IpfixDecoder()
    d.feed(message(ipfix_set(2, TEMPLATE), ipfix_set(256, record()), seq=2**32 - 1), "h1")
    d.feed(message(ipfix_set(256, record()), seq=0), "h1")  # wrapped: no loss
    assert d.stats["lost-records"] == 0
    d.feed(message(ipfix_set(256, record()), seq=11), "h1")  # 10 records never arrived
    assert d.stats["lost-records"] == 10


@pytest.mark.parametrize(
    ("msg", "stat"),
    [
        (
            message(ipfix_set(2, struct.pack("!HH", 255, 1) + struct.pack("!HH", 8, 4))),
            "error:template-id-below-256",
        ),
        (
            message(ipfix_set(2, struct.pack("!HH", 256, 1) + struct.pack("!HH", 0x8000 | 881, 4))),
            "error:enterprise-number-missing",
        ),
        (message(ipfix_set(2, struct.pack("!HH", 256, 60000))), "error:too-many-fields"),
        (message(ipfix_set(2, TEMPLATE[:-6])), "error:truncated-template"),
        (message(ipfix_set(2, TEMPLATE), struct.pack("!HH", 256, 9000)), "error:bad-set-length"),
        (message(struct.pack("!HH", 256, 0)), "error:bad-set-length"),
        (
            message(ipfix_set(2, TEMPLATE), ipfix_set(256, record() + b"\x01\x02")),
            "error:nonzero-padding",
        ),
        (
            message(ipfix_set(3, struct.pack("!HHH", 257, 1, 0) + struct.pack("!HH", 8, 4))),
            "error:bad-scope-count",
        ),
    ],
)
def test_hostile_input_is_counted(msg: bytes, stat: str) -> None:
    d = IpfixDecoder()
    d.feed(msg, "h1")
    assert d.stats[stat] == 1


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (b"\x00\x0a", "truncated"),
        (b"\x00\x05" + bytes(30), "bad-version"),
        (struct.pack("!HHIII", 10, 9999, 0, 0, 0), "bad-message-length"),
    ],
)
def test_not_a_message(msg: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        IpfixDecoder().feed(msg, "h1")


def test_template_cache_is_capped_per_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ipx, "MAX_TEMPLATES_PER_EXPORTER", 8)
    d = IpfixDecoder()
    for tid in range(256, 300):
        d.feed(message(ipfix_set(2, struct.pack("!HH", tid, 1) + struct.pack("!HH", 8, 4))), "h1")
    assert len(d.sessions[("h1", 1)].templates) == 8 and d.stats["templates-evicted"] == 36


def test_netflow_v9_template_options_and_data() -> None:
    template = struct.pack("!HH", 260, 2) + struct.pack("!HHHH", 8, 4, 56, 6)
    options = struct.pack("!HHH", 261, 4, 4) + struct.pack("!HHHH", 1, 0, 34, 4)  # scope len 0
    data = bytes([10, 0, 0, 9]) + bytes.fromhex("005056a10009")
    body = ipfix_set(0, template) + ipfix_set(1, options) + ipfix_set(260, data + b"\0\0")
    msg = struct.pack("!HHIIII", 9, 3, 0, 1_767_225_600, 7, 42) + body
    d = IpfixDecoder()
    flows = d.feed(msg, "r1")
    assert [
        (f.domain, f.values["sourceIPv4Address"], f.values["sourceMacAddress"]) for f in flows
    ] == [(42, "10.0.0.9", "00:50:56:a1:00:09")]
    assert d.stats["templates"] == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    d = IpfixDecoder()
    try:
        d.feed(b"\x00\x0a" + data, "h1")
        d.feed(b"\x00\x09" + data, "h1")
    except DecodeError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 255)), min_size=1, max_size=8))
def test_mutated_messages_raise_only_decode_error(flips: list[tuple[int, int]]) -> None:
    msg = bytearray(message(ipfix_set(2, TEMPLATE), ipfix_set(256, record() * 3)))
    for pos, value in flips:
        msg[pos % len(msg)] = value
    d = IpfixDecoder()
    try:
        for flow in d.feed(bytes(msg), "h1"):
            flow_frame(flow, 1)
    except DecodeError:
        pass


def test_memory_stays_bounded_whatever_senders_claim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invented exporters and domains cannot grow sessions, templates or buffered data."""
    monkeypatch.setattr(ipx, "MAX_SESSIONS", 16)
    monkeypatch.setattr(ipx, "MAX_TEMPLATES_TOTAL", 40)
    monkeypatch.setattr(ipx, "MAX_PENDING_BYTES", 4096)
    d = IpfixDecoder()
    for i in range(500):
        exporter, domain = f"10.0.{i // 250}.{i % 250}", i
        templates = b"".join(struct.pack("!HHHH", 256 + t, 1, 8, 4) for t in range(5))
        d.feed(message(ipfix_set(2, templates), domain=domain), exporter)
        d.feed(message(ipfix_set(999, bytes(400)), domain=domain), exporter)  # no template
    assert len(d.sessions) <= 16
    assert d.template_total == sum(len(s.templates) for s in d.sessions.values()) <= 40
    assert d.pending_bytes == sum(len(p[1]) for s in d.sessions.values() for p in s.pending)
    assert d.pending_bytes <= 4096
    assert d.stats["error:template-cache-full"] > 0 and d.stats["pending-dropped"] > 0
