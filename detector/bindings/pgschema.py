"""The shared PostgreSQL binding store in SQL: versioned migrations, the claim function, rows.

A claim is settled by `spoofwatch_claim()` in one transaction: the port's and the address's
advisory locks are taken (always port first, so two claims never wait on each other in a
circle), then the same rules as the binding table's (DESIGN §4): an address already realized
on another port of the segment is a conflict, a port at its limit for the method stays at it,
and otherwise the row is inserted (the unique key (segment, mac, address) makes a repeat a
no-op) and announced with NOTIFY, which PostgreSQL delivers only when the transaction commits.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any

import psycopg

from detector.errors import StateError
from detector.values import Binding, Evidence, Method, PortKey, normalize_mac

CHANNEL = "spoofwatch_bindings"
LOCK = 0x5370_6F6F_6677  # the advisory lock migrations run under ("Spoofw")

MIGRATIONS: tuple[str, ...] = (
    # 1: bindings, the kept NSX snapshot, and the claim function
    f"""
    CREATE TABLE spoofwatch_bindings (
        id         bigserial PRIMARY KEY,
        segment    text NOT NULL,
        mac        text NOT NULL,
        address    text NOT NULL,
        method     text NOT NULL,
        source     text,
        packet     bigint,
        ts_ns      bigint,
        collector  text NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (segment, mac, address)
    );
    CREATE INDEX spoofwatch_bindings_address ON spoofwatch_bindings (segment, address);
    CREATE INDEX spoofwatch_bindings_claimed ON spoofwatch_bindings (claimed_at);
    CREATE TABLE spoofwatch_nsx_snapshot (
        id   integer PRIMARY KEY CHECK (id = 1),
        body text NOT NULL
    );
    CREATE FUNCTION spoofwatch_claim(
        p_segment text, p_mac text, p_address text, p_method text, p_limit integer,
        p_source text, p_packet bigint, p_ts bigint, p_collector text
    ) RETURNS text LANGUAGE plpgsql AS $$
    DECLARE
        other text;
        held integer;
    BEGIN
        PERFORM pg_advisory_xact_lock(hashtextextended(p_segment || ' ' || p_mac, 0));
        PERFORM pg_advisory_xact_lock(hashtextextended(p_segment || ' @' || p_address, 0));
        PERFORM 1 FROM spoofwatch_bindings
            WHERE segment = p_segment AND mac = p_mac AND address = p_address;
        IF FOUND THEN
            RETURN 'known';
        END IF;
        IF p_method <> 'manual' THEN
            SELECT mac INTO other FROM spoofwatch_bindings
                WHERE segment = p_segment AND address = p_address AND mac <> p_mac LIMIT 1;
            IF other IS NOT NULL THEN
                RETURN 'conflict ' || other;
            END IF;
        END IF;
        IF p_limit IS NOT NULL THEN
            SELECT count(*) INTO held FROM spoofwatch_bindings
                WHERE segment = p_segment AND mac = p_mac AND method = p_method;
            IF held >= p_limit THEN
                RETURN 'limit';
            END IF;
        END IF;
        INSERT INTO spoofwatch_bindings
            (segment, mac, address, method, source, packet, ts_ns, collector)
            VALUES (p_segment, p_mac, p_address, p_method, p_source, p_packet, p_ts, p_collector);
        PERFORM pg_notify('{CHANNEL}', json_build_object(
            's', p_segment, 'm', p_mac, 'a', p_address, 't', p_method, 'src', p_source,
            'p', p_packet, 'ts', p_ts, 'c', p_collector)::text);
        RETURN 'realized';
    END $$;
    """,
    # 2: a batch of claims in one transaction: every advisory lock it needs is taken first, in
    # ascending order, so two batches never wait on each other in a circle (the locks are
    # re-entrant: each claim takes its own again at once)
    """
    CREATE FUNCTION spoofwatch_claims(
        segs text[], macs text[], addrs text[], methods text[], limits integer[],
        sources text[], packets bigint[], tss bigint[], p_collector text
    ) RETURNS SETOF text LANGUAGE plpgsql AS $$
    DECLARE
        k bigint;
        i integer;
    BEGIN
        FOR k IN
            SELECT DISTINCT key FROM (
                SELECT hashtextextended(s || ' ' || m, 0) FROM unnest(segs, macs) AS t(s, m)
                UNION
                SELECT hashtextextended(s || ' @' || a, 0) FROM unnest(segs, addrs) AS t(s, a)
            ) AS keys(key) ORDER BY key
        LOOP
            PERFORM pg_advisory_xact_lock(k);
        END LOOP;
        FOR i IN 1 .. coalesce(array_length(segs, 1), 0) LOOP
            RETURN NEXT spoofwatch_claim(segs[i], macs[i], addrs[i], methods[i], limits[i],
                                         sources[i], packets[i], tss[i], p_collector);
        END LOOP;
    END $$;
    """,
)
VERSION = len(MIGRATIONS)

COLUMNS = "segment, mac, address, method, source, packet, ts_ns, collector"
REFUSED = ("limit", "conflict")


def migrate(conn: Any) -> int:
    """Bring the schema to VERSION (under an advisory lock: collectors may start together);
    refuse a database a newer spoofwatch has migrated. Returns the version found."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS spoofwatch_schema (version integer NOT NULL)")
        row = conn.execute("SELECT max(version) FROM spoofwatch_schema").fetchone()
        found = int(row[0]) if row and row[0] is not None else 0
        if found > VERSION:
            raise StateError(
                f"the database's spoofwatch schema is version {found}, newer than this"
                f" spoofwatch's {VERSION}: upgrade this collector (the others already were)"
            )
        for version in range(found + 1, VERSION + 1):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute("INSERT INTO spoofwatch_schema VALUES (%s)", (version,))
    return found


@dataclass(frozen=True, slots=True)
class Claim:
    """A binding this collector realized, to be settled by the shared store."""

    port: PortKey
    binding: Binding
    limit: int | None  # the port's limit for the method (None: none)


@dataclass(frozen=True, slots=True)
class Row:
    """A binding the shared store holds, and the collector that claimed it."""

    port: PortKey
    binding: Binding
    collector: str


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """How the store settled a claim: realized, known, limit or conflict (with the owner's
    MAC); for a refused claim, the rows that won (the port's, and the address's owner's)."""

    claim: Claim
    outcome: str
    owner: str | None = None
    winners: tuple[Row, ...] = ()


def settle(conn: psycopg.Connection[Any], batch: list[Claim], collector: str) -> list[ClaimOutcome]:
    """Settle a batch of claims in one round trip and one transaction (`spoofwatch_claims`,
    deadlock-free); fetch the winners of the refused ones."""
    columns: list[list[Any]] = [[] for _ in range(8)]
    for c in batch:
        values = (c.port.segment, c.port.mac, c.binding.address, str(c.binding.method), c.limit)
        for column, value in zip(columns, (*values, *_evidence(c.binding)), strict=True):
            column.append(value)
    answers = conn.execute(
        "SELECT * FROM spoofwatch_claims(%s, %s, %s, %s, %s::integer[], %s, %s::bigint[],"
        " %s::bigint[], %s)",
        (*columns, collector),
    ).fetchall()
    verdicts = [str(row[0]).partition(" ") for row in answers]
    refused = [c for c, (o, _, _) in zip(batch, verdicts, strict=True) if o in REFUSED]
    held: list[Row] = []
    if refused:  # the winners of every refused claim, in one query
        held = rows_where(
            conn,
            "b JOIN unnest(%s::text[], %s::text[], %s::text[]) AS w(s, m, a)"
            " ON b.segment = w.s AND (b.mac = w.m OR b.address = w.a)",
            [c.port.segment for c in refused],
            [c.port.mac for c in refused],
            [c.binding.address for c in refused],
        )
    out = []
    for claim, (outcome, _, owner) in zip(batch, verdicts, strict=True):
        winners: tuple[Row, ...] = ()
        if outcome in REFUSED:
            p, address = claim.port, claim.binding.address
            winners = tuple(
                r
                for r in held
                if r.port.segment == p.segment
                and (r.port.mac == p.mac or r.binding.address == address)
            )
        out.append(ClaimOutcome(claim, outcome, owner or None, winners))
    return out


def _evidence(b: Binding) -> tuple[str | None, int | None, int | None]:
    ev = b.evidence
    return (ev.source, ev.packet, ev.ts_ns) if ev else (None, None, None)


def rows_where(conn: psycopg.Connection[Any], where: str, *params: object) -> list[Row]:
    cur = conn.execute(
        f"SELECT DISTINCT ON (id) {COLUMNS}, id FROM spoofwatch_bindings {where} ORDER BY id",
        params or None,
    )
    return [r for *values, _ in cur if (r := _make(*values)) is not None]


def row(payload: str) -> Row | None:
    """A notification's row; None if it is not one (it is counted, not trusted)."""
    try:
        d = json.loads(payload)
        return _make(d["s"], d["m"], d["a"], d["t"], d.get("src"), d.get("p"), d.get("ts"), d["c"])
    except (ValueError, KeyError, TypeError):
        return None


def _make(
    segment: Any, mac: Any, address: Any, method: Any, source: Any, packet: Any, ts: Any, by: Any
) -> Row | None:
    try:
        ev = Evidence(str(source), int(packet or 0), int(ts or 0)) if source else None
        ipaddress.ip_network(str(address))  # an address, or a manual binding's network
        port = PortKey(str(segment), normalize_mac(str(mac)))
        return Row(port, Binding(str(address), Method(method), ev, restored=True), str(by))
    except (ValueError, TypeError):
        return None
