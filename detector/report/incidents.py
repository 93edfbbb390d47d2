"""The report's tables, computed with pandas: headline, incidents (one row per port), bindings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from detector.report.load import Inputs, times

# Kinds that are not a port's misbehaviour: the table filling up has no port.
NOT_AN_INCIDENT = {"table-full"}
INCIDENT_COLUMNS = [
    "segment",
    "mac",
    "kinds",
    "bound",
    "offending",
    "impersonates",
    "first_seen",
    "last_seen",
    "packets",
    "alerts",
]


@dataclass(frozen=True)
class Headline:
    captures: list[str]
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    packets: int | None
    by_kind: pd.DataFrame  # rows: kind, columns: severity, values: alerts


def headline(inp: Inputs) -> Headline:
    meta, tl, al = inp.meta, inp.timeline, inp.alerts
    captures = [str(c.get("name")) for c in meta.get("captures", [])]
    if not captures:
        captures = sorted({str(f) for f in al["evidence.file"].dropna()})
    span = [t for t in (tl["time"].min(), tl["time"].max()) if len(tl)]
    if not span and len(al):
        span = [times(al["first_seen"]).min(), times(al["evidence.time"]).max()]
    packets = meta.get("packets")
    if packets is None and len(tl):
        packets = int(tl["packets"].sum())
    by_kind = pd.crosstab(al["kind"], al["severity"]) if len(al) else pd.DataFrame()
    return Headline(
        captures,
        span[0] if span else None,
        span[-1] if span else None,
        packets,
        by_kind,
    )


def incidents(inp: Inputs) -> pd.DataFrame:
    """One row per offending port, worst first: what it was bound to, what it used, whom it
    impersonated, when, and how many packets (from the timeline when there is one)."""
    al = inp.alerts[(inp.alerts["severity"] != "info") & ~inp.alerts["kind"].isin(NOT_AN_INCIDENT)]
    if not len(al):
        return pd.DataFrame(columns=INCIDENT_COLUMNS)
    imp = al["impersonates.mac"] + " (" + al["impersonates.address"].fillna("") + ")"
    al = al.assign(imp=imp, first=times(al["first_seen"]), last=times(al["evidence.time"]))
    key = ["segment", "mac"]
    out = al.groupby(key, sort=False).agg(
        first_seen=("first", "min"),
        last_seen=("last", "max"),
        packets=("count", "sum"),
        alerts=("kind", "size"),
    )
    bound = al[al["bound"] != ""].groupby(key, sort=False)["bound"].last()
    out = out.join(
        [
            _joined(al, "kind", "kinds"),
            bound,
            _joined(al, "src_ip", "offending"),
            _joined(al, "imp", "impersonates"),
        ]
    ).reset_index()
    out[["kinds", "bound", "offending", "impersonates"]] = out[
        ["kinds", "bound", "offending", "impersonates"]
    ].fillna("")
    tl = inp.timeline
    if len(tl):
        bad = tl[tl["unbound_packets"] > 0]
        per_port = bad.groupby(["segment", "mac"], observed=True)
        seen = pd.DataFrame(
            {
                "timeline_packets": per_port["unbound_packets"].sum(),
                "timeline_last": per_port["time"].max(),
            }
        ).reset_index()
        out = out.merge(seen, on=["segment", "mac"], how="left")
        has = out["timeline_packets"].notna()
        out.loc[has, "packets"] = out.loc[has, "timeline_packets"]
        bucket = pd.Timedelta(seconds=float(inp.meta.get("bucket_seconds", 1)))
        last = out["timeline_last"] + bucket  # the end of the last bucket with such packets
        out["last_seen"] = last.where(last > out["last_seen"], out["last_seen"])
        out = out.drop(columns=["timeline_packets", "timeline_last"])
    out["packets"] = out["packets"].astype("int64")
    return out.sort_values(["packets", "alerts"], ascending=False, kind="stable")[INCIDENT_COLUMNS]


def _joined(al: pd.DataFrame, column: str, name: str) -> pd.Series:
    """Per port, the distinct values of a column in the order they first appeared."""
    rows = al[["segment", "mac", column]].dropna()
    rows = rows[rows[column] != ""].drop_duplicates()
    key = ["segment", "mac"]
    several = rows.groupby(key, sort=False)[column].transform("size") > 1
    single = rows[~several].set_index(key)[column]  # most ports: one value, nothing to join
    joined = rows[several].groupby(key, sort=False)[column].agg(", ".join)
    return pd.concat([single, joined]).rename(name)


def bindings(meta: dict[str, Any]) -> pd.DataFrame:
    """The binding table as the replay ended (from the timeline's metadata)."""
    rows = [
        {
            "segment": b.get("segment"),
            "mac": b.get("mac"),
            "address": b.get("address"),
            "method": b.get("method"),
            "learned_at": b.get("learned_at"),
            "learned_from": b.get("learned_by")
            or "{file} packet {packet}".format(**(b.get("evidence") or {"file": "", "packet": ""})),
        }
        for b in meta.get("bindings", [])
    ]
    return pd.DataFrame(
        rows, columns=["segment", "mac", "address", "method", "learned_at", "learned_from"]
    )


def decode_errors(meta: dict[str, Any]) -> pd.DataFrame:
    rows = [dict(e, kind="error") for e in meta.get("decode_errors", [])]
    rows += [dict(e, kind="not inspected") for e in meta.get("skipped", [])]
    return pd.DataFrame(rows, columns=["kind", "layer", "reason", "count"])
