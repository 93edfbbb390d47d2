"""Shared fixtures: paths to the repository's samples and to the real captures beside it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.pgcluster import Cluster

ROOT = Path(__file__).resolve().parent.parent
PCAPS = ROOT / "pcaps"
REAL = ROOT.parent / "shared" / "pcaps-real"


def real_captures() -> list[Path]:
    """Every capture file in ../shared/pcaps-real (empty when the folder is absent)."""
    if not REAL.is_dir():
        return []
    return sorted(
        p for p in REAL.rglob("*") if p.is_file() and p.suffix in (".pcap", ".pcapng", ".cap")
    )


def real_id(path: Path) -> str:
    return str(path.relative_to(REAL))


class MemorySink:
    """Alerts kept in a list (a test double for the jsonl sink)."""

    def __init__(self) -> None:
        self.alerts: list = []  # type: ignore[type-arg]

    def emit(self, alerts: list) -> None:  # type: ignore[type-arg]
        self.alerts.extend(alerts)

    def close(self) -> None:
        pass


needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/pcaps-real is absent")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

SCHEMA = ROOT / "detector" / "schema" / "alert.schema.json"
GOLDEN = Path(__file__).resolve().parent / "golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite tests/golden/*/expected.jsonl from the current output (review the diff!)",
    )


def validate_alerts(lines: list[str]) -> None:
    """Every alert line must satisfy the JSON Schema shipped in the package."""
    import json

    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for line in lines:
        validator.validate(json.loads(line))


BEHAVIOUR = PCAPS / "behaviour"


@pytest.fixture(scope="session")
def behaviour_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A behaviour model trained, as a user would, on the benign baseline capture only."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("model") / "model.npz"
    done = subprocess.run(
        [sys.executable, "-m", "detector", "model", "train", str(BEHAVIOUR / "baseline.pcap.gz"),
         "--out", str(out), "--timeline", str(out.with_suffix(".csv"))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A throw-away PostgreSQL cluster on loopback for the session (skips without Debian's
    postgresql, which `make test` installs)."""
    from tests.integration.daemon_util import free_port
    from tests.pgcluster import AVAILABLE, Cluster

    if not AVAILABLE:
        pytest.skip("PostgreSQL (Debian postgresql) is not installed")
    cluster = Cluster(free_port())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()


def empty_database(cluster: Cluster) -> None:
    """Drop what spoofwatch made in the cluster's database (each test starts from none)."""
    cluster.sql("DROP TABLE IF EXISTS spoofwatch_bindings, spoofwatch_nsx_snapshot CASCADE")
    cluster.sql("DROP TABLE IF EXISTS spoofwatch_schema")
    cluster.sql("DROP FUNCTION IF EXISTS spoofwatch_claim, spoofwatch_claims")
