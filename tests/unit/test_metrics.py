"""The exposition counts what keeps memory bounded: ports refused, and what the table dropped."""

from __future__ import annotations

import dataclasses

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from detector.config.bindings import BindingPolicy
from detector.config.settings import Config
from detector.metrics.exposition import CATALOGUE, RunCounters, registry
from detector.runners.pipeline import Pipeline
from detector.values import Evidence, Method, PortKey
from tests.conftest import MemorySink


def samples(pipeline: Pipeline) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reg, _ = registry(lambda: pipeline, "test", RunCounters())
    text = generate_latest(reg).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_flood_is_capped_and_counted() -> None:
    policy = BindingPolicy(max_ports=3, max_discovered_per_port=2)
    pipeline = Pipeline(dataclasses.replace(Config(), policy=policy), MemorySink())
    table, ev = pipeline.table, Evidence("flood.pcap", 1, 0)
    for i in range(10):  # ten MACs claim an address each: three are tracked
        table.learn(PortKey("geneve:7", f"02:00:00:00:00:{i:02x}"), f"10.0.0.{i}", Method.ARP, ev)
    first = PortKey("geneve:7", "02:00:00:00:00:00")
    for i in range(20, 30):  # one port claims ten more: two are kept as discovered
        table.learn(first, f"10.0.0.{i}", Method.ARP, ev)
    table.move(first, "not-an-address")
    got = samples(pipeline)
    assert got[("spoofwatch_ports", ())] == 3 and got[("spoofwatch_bindings", ())] == 3
    assert got[("spoofwatch_ports_refused_total", ())] == 7
    dropped = "spoofwatch_bindings_dropped_total"
    assert got[(dropped, (("reason", "discovered-cap"),))] == 8
    assert got[(dropped, (("reason", "endpoint-not-an-address"),))] == 1
    assert got[(dropped, (("reason", "evidence-source-cap"),))] == 0
    gauges = {n for n, (k, _, _) in CATALOGUE.items() if k == "gauge"}
    nsx = {n for n in gauges if n.startswith("spoofwatch_nsx_")}
    sinks = {"spoofwatch_sink_queue_length"}  # only with a network sink
    state = {n for n in gauges if n.startswith("spoofwatch_state_")}  # only with [state] url
    assert {name for name, _ in got} >= gauges - nsx - sinks - state  # NSX gauges with [nsx]
    assert not {name for name, _ in got} & (nsx | state)
