"""This collector's table kept in step with the fleet's shared store: claims out, the rest in.

Runs on the detection loop, between batches. What the store holds is the fleet's word: a
binding another collector claimed is realized here as it is (`table.adopt`), even past this
collector's own limits. A binding realized here is provisional until its claim comes back:
refused (the port was at its limit, or the address is another port's), it is taken back and
raises the alert its packet would have raised had the store been asked first. A complete
re-read after each (re)connection claims again whatever this collector holds and the store
does not (claims dropped while the queue was full, or kept in the local journal by a
collector that died during an outage): that is the reconciliation, and a conflict in it is
an alert, never a silent overwrite.
"""

from __future__ import annotations

import logging

from detector.bindings.fleet import FleetStore, Sync
from detector.bindings.pgschema import Claim, ClaimOutcome, Row
from detector.bindings.store import BindingStore
from detector.bindings.table import BindingTable, LearnResult, Outcome
from detector.detectors.engine import Engine
from detector.values import Alert, Binding, Method, PortKey, nsx_source

log = logging.getLogger("spoofwatch.state")
CLAIMED = (Method.ARP, Method.ND, Method.DHCP, Method.FLOW)  # what the wire taught


def claimable(b: Binding) -> bool:
    """Learned from the wire by this collector (not configured, not NSX's)."""
    return b.method in CLAIMED and nsx_source(b) is None and "/" not in b.address


class FleetSync:
    """Claims this collector makes and has not heard back on, and what to do with replies."""

    def __init__(self, store: FleetStore, journal: BindingStore | None) -> None:
        self.store = store
        self.journal = journal
        self.pending: dict[tuple[PortKey, str], Claim] = {}

    def attach(self, table: BindingTable, start: bool = True) -> int:
        """Apply the store's rows read at start, claim what only this collector holds, and
        send every binding realized from now on to the store (its threads start unless
        `start` is False). Returns the rows applied."""
        n = 0
        if self.store.initial is not None:
            n = len(self.store.initial.rows)
            self._sync(table, self.store.initial)
            self.store.initial = None
        journal = self.journal.save if self.journal is not None else None

        def realized(port: PortKey, binding: Binding) -> None:
            if journal is not None:
                journal(port, binding)
            self._claim(table, port, binding)

        table.on_realize = realized
        if start:
            self.store.start()
        return n

    def take(self, engine: Engine) -> list[Alert]:
        """Apply what the store's threads handed back; the alerts of refused claims."""
        table, store = engine.table, self.store
        while store.syncs:
            self._sync(table, store.syncs.popleft())
        while store.heard:
            self._heard(table, store.heard.popleft())
        alerts: list[Alert] = []
        while store.settled:
            alerts.extend(self._settled(engine, store.settled.popleft()))
        return alerts

    def _claim(self, table: BindingTable, port: PortKey, binding: Binding) -> None:
        if not claimable(binding):
            return
        claim = Claim(port, binding, table.limit_of(port, binding.method, binding.address))
        if len(self.pending) < self.store.cfg.queue_max:
            self.pending[(port, binding.address)] = claim
            self.store.claim(claim)
        else:
            self.store.stats["dropped"] += 1  # claimed again at the next complete sync

    def _sync(self, table: BindingTable, sync: Sync) -> None:
        for row in sync.rows:
            self._heard(table, row)
        if not sync.complete:
            return
        held = {(r.port, r.binding.address) for r in sync.rows} | self.pending.keys()
        missing = [
            (port, b) for port, b in table.items() if claimable(b) and (port, b.address) not in held
        ]
        for port, b in missing:
            self._claim(table, port, b)
        if missing:
            log.info("claiming %d bindings the shared store did not hold", len(missing))

    def _heard(self, table: BindingTable, row: Row) -> None:
        """Another collector's claim (or our own, echoed): realize it as the store holds it."""
        port, b = row.port, row.binding
        if "/" in b.address:
            table.restore(port, b)  # a manual network from `bindings import`
            return
        if table.binding(port, b.address) is not None:
            return
        limit = table.limit_of(port, b.method, b.address)
        mine = [x for x in table.bindings(port) if x.method is b.method]
        if limit is not None and len(mine) >= limit:
            for x in mine:  # provisional ones the store will refuse; their verdicts say so
                if (port, x.address) in self.pending:
                    table.forget(port, x.address)
        if table.adopt(port, b):
            self.store.stats["adopted"] += 1
            if self.journal is not None:
                self.journal.save(port, b)  # the fleet's word, kept for a start without it

    def _settled(self, engine: Engine, s: ClaimOutcome) -> list[Alert]:
        claim, table = s.claim, engine.table
        port, b = claim.port, claim.binding
        self.pending.pop((port, b.address), None)
        if s.outcome in ("realized", "known"):
            if table.binding(port, b.address) is None:
                table.adopt(port, b)  # provisionally taken back by a notification: it stands
            return []
        if s.outcome not in ("limit", "conflict"):
            log.error("the shared store answered %r to a claim; left as it is", s.outcome)
            return []
        table.forget(port, b.address)
        if self.journal is not None:
            self.journal.delete(port, b.address)
        for row in s.winners:
            self._heard(table, row)
        owner = PortKey(port.segment, s.owner) if s.owner else None
        outcome = Outcome.LIMIT if s.outcome == "limit" else Outcome.CONFLICT
        by = {r.collector for r in s.winners if r.port == owner or r.port == port}
        why = "the shared binding store" + (f" (claimed by {', '.join(sorted(by))})" if by else "")
        if b.evidence is None:
            return []
        result = LearnResult(port, b.address, b.method, outcome, owner)
        return engine.refused(result, b.evidence, why)
