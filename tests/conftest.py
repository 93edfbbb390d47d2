"""Shared fixtures: paths to the repository's samples and to the real captures beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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


needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/pcaps-real is absent")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
