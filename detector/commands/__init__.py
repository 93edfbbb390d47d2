"""The subcommands: one module each, named as the command, holding its parser and its `run`.

A command module defines `register(sub)`, which adds its parser and sets `run` as the parser's
default; imports that cost start-up time stay inside `run`, so `--help` is quick. Commands never
import each other; what several share lives in `summary` (what a person reads) or a lower stage.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Protocol

COMMANDS = (
    "replay",
    "report",
    "decode",
    "flows",
    "explain",
    "run",
    "check_config",
    "bindings",
    "nsx",
    "model",
)


class Command(Protocol):
    """What a command module provides."""

    def register(self, sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


def register_all(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add every command's parser, in the order `--help` lists them."""
    for name in COMMANDS:
        module: Command = importlib.import_module(f"detector.commands.{name}")
        module.register(sub)
