"""ECS output: every alert of every golden case maps to fields that Elastic's own ECS 8 field
reference (the @elastic/ecs package, fetched by `make test`) defines, with their types and
allowed values."""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from detector.sinks.ecs import to_ecs
from tests.conftest import PCAPS, ROOT
from tests.golden.test_golden import CASES, run_case
from tests.integration.daemon_util import spoofwatch

FIELDS = ROOT / ".cache" / "ecs-8.11.5.json"


@cache
def reference() -> dict[str, Any]:
    if not FIELDS.exists():
        pytest.skip("no ECS field reference: `make .cache/ecs-8.11.5.json` fetches it")
    return dict(json.loads(FIELDS.read_text()))


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = prefix + key
        if isinstance(value, dict) and name != "spoofwatch":
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def check_value(name: str, spec: dict[str, Any], value: Any) -> None:
    values = value if isinstance(value, list) else [value]
    assert not isinstance(value, list) or "array" in spec["normalize"], f"{name} is no array"
    for v in values:
        kind = spec["type"]
        if kind in ("keyword", "match_only_text", "wildcard", "constant_keyword", "text"):
            assert isinstance(v, str), name
        elif kind == "long":
            assert isinstance(v, int) and not isinstance(v, bool), name
        elif kind == "date":
            assert datetime.fromisoformat(v.replace("Z", "+00:00")), name
        elif kind == "ip":
            ipaddress.ip_address(v)
        else:
            raise AssertionError(f"{name}: a type this test does not check: {kind}")
        if "pattern" in spec:
            assert re.fullmatch(spec["pattern"], v), f"{name}={v!r} breaks {spec['pattern']}"
        allowed = {a["name"] for a in spec.get("allowed_values", [])}
        assert not allowed or v in allowed, f"{name}={v!r} is not an allowed value"


def ecs_docs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.chdir(PCAPS)
    docs = []
    for case in CASES:
        _, pipeline, _ = run_case(case)
        docs += [to_ecs(a) for a in pipeline.sink.alerts]  # type: ignore[attr-defined]
    return docs


def test_every_golden_alert_maps_to_valid_ecs(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = reference()
    docs = ecs_docs(monkeypatch)
    assert len(docs) >= 15  # every kind the golden cases raise
    required = {name for name, spec in ref.items() if spec.get("required")}
    for doc in docs:
        flat = flatten(doc)
        assert required <= set(flat), required - set(flat)
        for name, value in flat.items():
            if name == "spoofwatch":
                continue  # our own namespace: what ECS has no field for
            assert name in ref, f"{name} is not an ECS field"
            check_value(name, ref[name], value)
        # each event.type is one ECS expects with each of the event's categories
        categories = {a["name"]: a for a in ref["event.category"]["allowed_values"]}
        for category in doc["event"]["category"]:
            expected = categories[category].get("expected_event_types") or []
            assert set(doc["event"]["type"]) <= set(expected), (category, doc["event"]["type"])


def test_ecs_keeps_what_ecs_has_no_field_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PCAPS)
    _, pipeline, _ = run_case(ROOT / "tests" / "golden" / "impersonation")
    alerts = pipeline.sink.alerts  # type: ignore[attr-defined]
    doc = next(to_ecs(a) for a in alerts if a.kind == "unbound-source")
    assert doc["source"]["mac"] == doc["source"]["mac"].upper() and "-" in doc["source"]["mac"]
    assert doc["spoofwatch"]["segment"].startswith("geneve:")
    assert doc["spoofwatch"]["impersonates"]["address"] in doc["related"]["ip"]
    assert doc["rule"]["name"] == "unbound-source" and doc["event"]["severity"] == 99


def test_replay_format_ecs_writes_one_document_per_alert(tmp_path: Path) -> None:
    out = tmp_path / "alerts.ecs.jsonl"
    run = spoofwatch("replay", "geneve-ip-change.pcap", "--format", "ecs", "--alerts", str(out))
    assert run.returncode == 0, run.stderr
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["event"]["action"] for d in docs] == ["binding-limit", "unbound-source"]
    assert {d["source"]["ip"] for d in docs} == {"10.1.1.11"}
