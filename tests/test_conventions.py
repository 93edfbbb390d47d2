"""The project's conventions, enforced: one-way imports, docstrings, module size, plugin names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from detector.detectors import PLUGINS, WINDOW_PLUGINS
from tests.conftest import ROOT

PACKAGE = ROOT / "detector"
STAGES = ["sources", "decoders", "bindings", "detectors", "sinks"]
MODULES = sorted(PACKAGE.rglob("*.py"))


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def stage_of(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) > 1 and parts[0] == "detector" and parts[1] in STAGES:
        return STAGES.index(parts[1])
    return None


def test_stages_import_only_earlier_stages() -> None:
    for path in MODULES:
        rel = path.relative_to(ROOT).with_suffix("")
        mine = stage_of(".".join(rel.parts))
        if mine is None:
            continue
        for imported in imports(path):
            theirs = stage_of(imported)
            assert theirs is None or theirs <= mine, f"{rel} imports later stage {imported}"


def test_every_module_has_a_one_line_docstring_and_stays_small() -> None:
    for path in MODULES:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc, f"{path} has no module docstring"
        assert len(doc.splitlines()[0]) < 100
        assert len(path.read_text().splitlines()) <= 320, f"{path} is over ~300 lines"


def test_protocol_decoders_cite_their_rfc_or_spec() -> None:
    for path in (PACKAGE / "decoders").rglob("*.py"):
        if path.name in ("__init__.py", "chain.py") and path.parent.name == "decoders":
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        specs = ("RFC", "IEEE", "draft", "tcpdump.org/linktypes")
        assert any(spec in doc for spec in specs), path.name


def test_fast_paths_sit_above_the_stages_they_speed_up() -> None:
    """fast/ may import decoders, bindings and detectors; no stage imports fast/."""
    for path in MODULES:
        rel = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        fast_imports = {m for m in imports(path) if m.startswith("detector.fast")}
        if stage_of(rel) is not None:
            assert not fast_imports, f"{rel} imports {fast_imports}"
        if rel.startswith("detector.fast"):
            later = {m for m in imports(path) if stage_of(m) == STAGES.index("sinks")}
            assert not later, f"{rel} imports a sink: {later}"


def test_commands_never_import_each_other_nor_the_cli() -> None:
    shared = {"detector.commands", "detector.commands.summary"}
    for path in (PACKAGE / "commands").glob("*.py"):
        rel = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for imported in imports(path):
            assert imported != "detector.cli", f"{rel} imports the cli"
            if imported.startswith("detector.commands") and imported not in shared:
                raise AssertionError(f"{rel} imports another command, {imported}")


def test_plugin_name_is_module_name_is_class_name() -> None:
    for name, target in (PLUGINS | WINDOW_PLUGINS).items():
        module, _, cls = target.partition(":")
        assert module == f"detector.detectors.{name}"
        assert getattr(importlib.import_module(module), cls).name == name
    shipped = {p.stem for p in (PACKAGE / "detectors").glob("*.py")} - {"__init__", "engine"}
    assert shipped == set(PLUGINS) | set(WINDOW_PLUGINS)


def test_the_report_reads_files_and_knows_no_detection_stage() -> None:
    """report/ may use the model types, the file formats and the NSX snapshot reader only."""
    allowed = ("detector.report", "detector.values", "detector.tables", "detector.errors")
    nsx_readers = {"detector.nsx", "detector.nsx.snapshot", "detector.nsx.realized"}
    for path in (PACKAGE / "report").glob("*.py"):
        for imported in imports(path):
            if imported.startswith("detector"):
                assert imported.startswith(allowed) or imported in nsx_readers, (path, imported)
