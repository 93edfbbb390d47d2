"""Every command is one module named as the command, and registers its own parser."""

from __future__ import annotations

import argparse
import importlib

import pytest

from detector.cli import _parser
from detector.commands import COMMANDS
from tests.conftest import ROOT


def test_every_command_module_is_listed_and_named_as_its_command() -> None:
    shipped = {p.stem for p in (ROOT / "detector" / "commands").glob("*.py")}
    assert shipped - {"__init__", "summary"} == set(COMMANDS)
    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == [name.replace("_", "-") for name in COMMANDS]


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_runs_its_own_module(name: str) -> None:
    module = importlib.import_module(f"detector.commands.{name}")
    argv = {
        "replay": ["replay", "x.pcap"],
        "report": ["report", "--alerts", "a.jsonl", "--out", "r"],
        "decode": ["decode", "x.pcap"],
        "flows": ["flows", "x.pcap"],
        "explain": ["explain", "alerts.jsonl"],
        "run": ["run", "--config", "x.toml"],
        "check_config": ["check-config", "x.toml"],
        "bindings": ["bindings", "list", "--state", "x.db"],
        "nsx": ["nsx", "audit", "--nsx-snapshot", "s.json"],
        "model": ["model", "show", "m.npz"],
    }[name]
    args = _parser().parse_args(argv)
    assert args.run is module.run
