"""The shared binding store on a real PostgreSQL: races, conflicts, the schema, an outage."""

from __future__ import annotations

import time

import psycopg
import pytest

from detector.bindings.fleet import FleetStore
from detector.bindings.table import BindingTable, Outcome
from detector.config.state import StateConfig
from detector.detectors.engine import Engine
from detector.errors import StateError
from detector.runners.fleetsync import FleetSync
from detector.values import Alert, Evidence, Method, PortKey
from tests.conftest import empty_database
from tests.pgcluster import Cluster

T0 = 1_767_225_600 * 10**9
PORTS = [PortKey("geneve:7001", f"00:50:56:c0:{i >> 8:02x}:{i & 255:02x}") for i in range(1200)]


class Collector:
    """A table, an engine and a FleetSync: a collector without its capture."""

    def __init__(self, url: str, name: str, start: bool = True) -> None:
        self.store = FleetStore(StateConfig(url=url, collector=name, sync_seconds=1))
        self.sync = FleetSync(self.store, None)
        self.engine = Engine(BindingTable())
        self.sync.attach(self.engine.table, start=start)
        self.alerts: list[Alert] = []

    def learn(self, port: PortKey, address: str, packet: int) -> Outcome:
        ev = Evidence("race.pcap", packet, T0 + packet)
        return self.engine.table.learn(port, address, Method.ARP, ev).outcome

    def settle(self) -> None:
        self.alerts += self.sync.take(self.engine)

    def quiet(self) -> bool:
        return not (self.sync.pending or self.store.queue or self.store.settled)

    def addresses(self, port: PortKey) -> list[str]:
        return [b.address for b in self.engine.table.bindings(port)]


def settle(*collectors: Collector, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in collectors:
            c.settle()
        if all(c.quiet() for c in collectors):
            time.sleep(0.3)  # the last notifications
            for c in collectors:
                c.settle()
            return
        time.sleep(0.02)
    raise AssertionError("claims still pending")


@pytest.fixture
def pg(postgres: Cluster) -> Cluster:
    empty_database(postgres)
    return postgres


def test_two_collectors_racing_for_one_port_agree_on_one_winner(pg: Cluster) -> None:
    a, b = Collector(pg.url, "hv1", start=False), Collector(pg.url, "hv2", start=False)
    gate = psycopg.connect(pg.url)  # holds inserts back until both collectors are waiting
    gate.execute("LOCK TABLE spoofwatch_bindings IN EXCLUSIVE MODE")
    try:
        # both claim a different address for every port, in opposite orders, sent at once
        for i in range(len(PORTS)):
            a.learn(PORTS[i], f"10.1.{i >> 8}.{i & 255}", i)
            j = len(PORTS) - 1 - i
            b.learn(PORTS[j], f"10.2.{j >> 8}.{j & 255}", j)
        a.store.start()
        b.store.start()
        waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        deadline = time.monotonic() + 10
        while pg.sql(waiting) != "2" and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.rollback()  # both first claims are in: now they race
        settle(a, b)
        rows = pg.sql("SELECT mac, address, collector FROM spoofwatch_bindings").splitlines()
        held = {mac: (address, by) for mac, address, by in (r.split("\t") for r in rows)}
        assert len(rows) == len(PORTS) == len(held)  # exactly one per port
        for port in PORTS:
            winner = held[port.mac][0]
            assert a.addresses(port) == b.addresses(port) == [winner]
        won = {"hv1": 0, "hv2": 0}
        for _, by in held.values():
            won[by] += 1
        assert won["hv1"] + won["hv2"] == len(PORTS)
        # a batch of claims (512) is settled whole: the first batches (disjoint ports) both
        # win, the later ones contend, and whichever locks first wins all of its ports
        assert won["hv1"] >= 512 and won["hv2"] >= 512, won
        for c in (a, b):  # no deadlock, no error, no outage on the way
            assert c.store.stats["errors"] == c.store.stats["outages"] == 0
        # every loser said so: a binding-limit alert naming the store and the winner
        for c, other in ((a, "hv2"), (b, "hv1")):
            assert len(c.alerts) == won[other]
            assert {x.kind for x in c.alerts} == {"binding-limit"}
            for alert in c.alerts:
                assert dict(alert.detail)["settled_by"].endswith(f"(claimed by {other})")
                assert held[alert.port.mac][1] == other
                assert [x.address for x in alert.bindings] == [held[alert.port.mac][0]]
    finally:
        gate.close()
        a.store.close()
        b.store.close()


def test_a_claim_heard_in_time_is_judged_by_the_table_itself(pg: Cluster) -> None:
    a, b = Collector(pg.url, "hv1"), Collector(pg.url, "hv2")
    try:
        a.learn(PORTS[0], "10.2.0.5", 1)
        settle(a, b)
        # b heard a's claim, so its own table judges the neighbour's address at once
        assert b.addresses(PORTS[0]) == ["10.2.0.5"]
        assert b.learn(PORTS[1], "10.2.0.5", 2) is Outcome.CONFLICT
        settle(a, b)
        assert pg.sql("SELECT mac FROM spoofwatch_bindings") == PORTS[0].mac
        assert b.addresses(PORTS[1]) == [] and b.store.stats["claims:conflict"] == 0
    finally:
        a.store.close()
        b.store.close()


def test_a_claim_made_before_the_other_claim_is_heard_raises_the_conflict(pg: Cluster) -> None:
    a, b = Collector(pg.url, "hv1"), Collector(pg.url, "hv2")
    try:
        a.learn(PORTS[0], "10.2.0.6", 1)
        b.learn(PORTS[1], "10.2.0.6", 2)  # before either heard the other
        settle(a, b)
        winner = pg.sql("SELECT collector FROM spoofwatch_bindings")
        loser = b if winner == "hv1" else a
        assert [x.kind for x in loser.alerts] == ["arp-conflict"]
        alert = loser.alerts[0]
        assert alert.impersonates is not None
        assert alert.impersonates[0] == (PORTS[0] if winner == "hv1" else PORTS[1])
        assert a.engine.table.owner("geneve:7001", "10.2.0.6", 0) == alert.impersonates[0]
        assert b.engine.table.owner("geneve:7001", "10.2.0.6", 0) == alert.impersonates[0]
    finally:
        a.store.close()
        b.store.close()


def test_a_newer_schema_stops_the_collector_with_one_line(pg: Cluster) -> None:
    FleetStore(StateConfig(url=pg.url, collector="x")).close()
    assert pg.sql("SELECT max(version) FROM spoofwatch_schema") == "2"
    pg.sql("INSERT INTO spoofwatch_schema VALUES (7)")
    with pytest.raises(StateError, match="schema is version 7, newer than this spoofwatch's 2"):
        FleetStore(StateConfig(url=pg.url, collector="x"))


def test_an_unreachable_store_queues_claims_and_sends_them_when_it_answers(pg: Cluster) -> None:
    a = Collector(pg.url, "hv1")
    try:
        pg.stop()
        a.learn(PORTS[0], "10.3.0.1", 1)
        deadline = time.monotonic() + 15
        while a.store.up and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not a.store.up and a.store.stats["outages"] == 1
        a.learn(PORTS[1], "10.3.0.2", 2)
        assert a.store.queued() == 2
        assert a.addresses(PORTS[0]) == ["10.3.0.1"]  # detection goes on with the table
    finally:
        pg.start()
    try:
        settle(a, timeout=30)
        assert a.store.up and a.store.queued() == 0
        rows = pg.sql("SELECT address FROM spoofwatch_bindings ORDER BY address").splitlines()
        assert rows == ["10.3.0.1", "10.3.0.2"]
    finally:
        a.store.close()


def test_a_store_that_cannot_be_reached_is_an_error_where_one_is_required() -> None:
    cfg = StateConfig(url="postgresql://nobody@127.0.0.1:1/none", collector="x")
    with pytest.raises(StateError, match=r"^shared binding store postgresql://nobody@127.0.0.1:1"):
        FleetStore(cfg, required=True)
    FleetStore(cfg).close()  # a collector starts anyway, and keeps trying
