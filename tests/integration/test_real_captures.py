"""Replay every real capture in ../shared/pcaps-real: no errors, and every spoofing alert explained."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from detector.config.settings import Config
from detector.runners.pipeline import Pipeline
from detector.sinks.jsonl import dumps
from detector.values import Alert, AlertKind
from tests.conftest import MemorySink, needs_real, real_captures, real_id, validate_alerts

ROUTER = (
    "the MAC is a router: it ARPs for its own address and forwards packets from other subnets"
    " or the internet. On a plain SPAN, list such MACs in bindings.gateway_macs."
)
V6_EARLY = (
    "IPv6 addresses configured before the capture began: the host's ND traffic in the capture"
    " bound one address, then it sends from others it set up (DAD) before the first packet."
)
# Un-tunnelled captures inspected as plain SPAN: unbound-source alerts per file, and why.
UNTUNNELLED: dict[str, tuple[int, str]] = {
    "arkime/ospf.pcap": (1, V6_EARLY),
    "arkime/v6-http.pcap": (4, V6_EARLY),
    "arkime/v6.pcap": (6, V6_EARLY + " 00:60:97:07:69:ea is also a router. " + ROUTER),
    "zeek/communityid/icmp6.pcap": (5, "the same trace as arkime/v6.pcap. " + V6_EARLY),
    "suricata-verify/ipv6-evasion/ipv6-kill-router-gateway/kill_router6.pcap": (1, V6_EARLY),
    "libpcap/gateway_or_not.pcap": (1, ROUTER),
    "suricata-verify/base64-decode-5885/input.pcap": (12, ROUTER),
    "suricata-verify/issue-3341-tcphdr-01/urgent11_cve_2019_12260.pcap": (1, ROUTER),
    "suricata-verify/output-eve-ftp-data/input.pcap": (2, ROUTER),
    "suricata-verify/output-multi-eve/input.pcap": (1, ROUTER + " (a container bridge)"),
    "suricata-verify/sip-method/sip.pcap": (3, ROUTER),
    "suricata-verify/tls/tls13-draft18/tls13_draft18.pcap": (1, ROUTER),
    "tcpdump/bgp-4byte-asn.pcap": (3, ROUTER + " (a BGP speaker with addresses on several links)"),
    "tcpdump/dhcp-rfc4388.pcap": (2, ROUTER + " (a DHCP relay agent)"),
    "tcpdump/mptcp-fclose.pcap": (1, ROUTER),
    "zeek/ncp.pcap": (1, ROUTER),
    "zeek/var-services-std-ports.pcap": (3, ROUTER + " (a VMware NAT gateway)"),
    "zeek/wikipedia.pcap": (5, ROUTER),
    "tcpdump/eapon1.pcap": (
        1,
        "a true address change: the host bound to 192.168.1.249 falls back to IPv4 link-local"
        " 169.254.67.194 (RFC 3927) when its lease is gone, exactly the change we exist to see.",
    ),
    "zeek/icmp/icmp6-nd-short-options.pcap": (
        1,
        "a crafted test: the NS that would bind fe80::10 has a truncated option (a counted"
        " ndp/truncated error) so nothing is learned, and the same MAC then sends from it.",
    ),
}


def replay(path: Path, untunnelled: bool) -> list[Alert]:
    cfg = Config()
    cfg = dataclasses.replace(
        cfg, engine=dataclasses.replace(cfg.engine, inspect_untunnelled=untunnelled)
    )
    sink = MemorySink()
    report = Pipeline(cfg, sink).replay([str(path)])
    assert not report.failures, report.failures
    validate_alerts([dumps(a) for a in sink.alerts])
    return sink.alerts


@needs_real
def test_overlay_replay_of_every_real_capture_raises_no_spoofing_alert() -> None:
    kinds: Counter[str] = Counter()
    for path in real_captures():
        kinds.update(str(a.kind) for a in replay(path, untunnelled=False))
    assert len(real_captures()) > 250
    spoofing = {AlertKind.UNBOUND_SOURCE, AlertKind.ARP_CONFLICT, AlertKind.ND_CONFLICT}
    assert not {k: n for k, n in kinds.items() if k in spoofing}, kinds


@needs_real
@pytest.mark.parametrize("untunnelled", [True])
def test_plain_span_replay_every_unbound_source_is_explained(untunnelled: bool) -> None:
    seen = {}
    for path in real_captures():
        n = sum(a.kind is AlertKind.UNBOUND_SOURCE for a in replay(path, untunnelled))
        if n:
            seen[real_id(path)] = n
    assert seen == {name: n for name, (n, _) in UNTUNNELLED.items()}
