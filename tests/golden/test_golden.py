"""Golden cases: each folder holds case.toml (captures, config, expectations) and expected.jsonl."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from detector.config import settings as config_mod
from detector.runners.pipeline import Pipeline
from detector.sinks.jsonl import dumps
from tests.conftest import GOLDEN, PCAPS, MemorySink, validate_alerts

CASES = sorted(p.parent for p in GOLDEN.glob("*/case.toml"))


def run_case(case: Path) -> tuple[list[str], Pipeline, dict]:  # type: ignore[type-arg]
    spec = tomllib.loads((case / "case.toml").read_text())
    cfg = config_mod.load(case / spec["config"]) if "config" in spec else config_mod.Config()
    if "bindings" in spec:
        import dataclasses

        cfg = dataclasses.replace(cfg, bindings_file=str(case / spec["bindings"]))
    sink = MemorySink()
    pipeline = Pipeline(cfg, sink)
    report = pipeline.replay(spec["captures"])
    assert not report.failures
    return [dumps(a) for a in sink.alerts], pipeline, spec


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_golden(
    case: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PCAPS)  # evidence names the capture as a user in pcaps/ would
    lines, pipeline, spec = run_case(case)
    validate_alerts(lines)
    expected_file = case / "expected.jsonl"
    if request.config.getoption("--update-golden"):
        expected_file.write_text("".join(line + "\n" for line in lines))
    assert expected_file.read_text().splitlines() == lines
    errors = {f"{layer}/{reason}": n for (layer, reason), n in pipeline.stats.errors.items()}
    assert errors == spec.get("expect", {}).get("decode_errors", {})


def test_replay_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PCAPS)
    case = GOLDEN / "seed-story-geneve-ip-change"
    assert run_case(case)[0] == run_case(case)[0]


def test_every_sample_has_a_golden_case() -> None:
    covered = set()
    for case in CASES:
        covered.update(tomllib.loads((case / "case.toml").read_text())["captures"])
    assert covered == {p.name for p in PCAPS.glob("*.pcap")}
