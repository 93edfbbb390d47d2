"""The project's conventions, enforced: one-way imports, docstrings, module size, plugin names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from detector.plugins import PLUGINS, WINDOW_PLUGINS
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


# The house, ground floor first: a module may import its own room and the rooms before it, never
# one after it, so no two rooms can form a loop. Rooms of the same row may not import each other.
ROOMS: list[tuple[str, ...]] = [
    ("errors",),
    ("values",),
    ("plugins", "tables", "shards", "jit", "logs"),
    ("config",),
    ("sources",),
    ("decoders",),
    ("nsx",),
    ("bindings",),
    ("behaviour",),
    ("detectors",),
    ("sinks",),
    ("fast",),
    ("metrics",),
    ("report",),
    ("runners",),
    ("commands",),
    ("cli",),
    ("__main__",),
]
RANK = {room: i for i, row in enumerate(ROOMS) for room in row}


def room_of(module: str) -> str | None:
    """`detector.fast.packets.path` → `fast`; the package itself (its version) is no room."""
    parts = module.split(".")
    return parts[1] if parts[0] == "detector" and len(parts) > 1 else None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_violations(sources: dict[str, str]) -> list[str]:
    """Every import (TYPE_CHECKING and function-level ones included) that goes to a later room,
    a room of the same row, or a room the order does not know."""
    found = []
    for module, text in sources.items():
        mine = room_of(module)
        if mine is None:
            continue
        if mine not in RANK:
            found.append(f"{module}: room {mine!r} is not in the declared order")
            continue
        for node in ast.walk(ast.parse(text)):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
                if node.module == "detector":
                    names = [f"detector.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                theirs = room_of(name)
                if theirs is None or theirs == mine or theirs == "__version__":
                    continue
                if theirs not in RANK or RANK[theirs] >= RANK[mine]:
                    found.append(f"{module} ({mine}) imports {name} ({theirs})")
    return found


def package_sources() -> dict[str, str]:
    return {module_name(path): path.read_text() for path in MODULES}


def test_every_import_points_down_the_declared_order_of_rooms() -> None:
    assert room_violations(package_sources()) == []
    on_disk = {p.stem if p.suffix else p.name for p in PACKAGE.iterdir()} - {"__init__"}
    on_disk -= {"__pycache__", "py", "schema", "py.typed"}
    assert on_disk <= set(RANK), on_disk - set(RANK)


def test_an_upward_import_or_a_loop_is_caught() -> None:
    sources = package_sources()
    upward = dict(sources)
    upward["detector.bindings.table"] += "\nfrom detector.runners.pipeline import Pipeline\n"
    assert room_violations(upward) == [
        "detector.bindings.table (bindings) imports detector.runners.pipeline (runners)"
    ]
    sideways = dict(sources)
    sideways["detector.tables"] += "\nif False:\n    import detector.shards\n"
    assert room_violations(sideways) == [
        "detector.tables (tables) imports detector.shards (shards)"
    ]
    unknown = dict(sources)
    unknown["detector.attic.old"] = '"""Left over."""\n'
    assert room_violations(unknown) == [
        "detector.attic.old: room 'attic' is not in the declared order"
    ]


def test_every_sink_and_source_is_registered_by_its_module_name() -> None:
    from detector.plugins import SINKS, SOURCES, resolve

    for registry, folder in ((SINKS, "sinks"), (SOURCES, "sources")):
        for name, target in registry.items():
            module, _, cls = target.partition(":")
            assert module == f"detector.{folder}.{name}", (name, target)
            found = resolve(target)
            assert found.__name__ == cls, (name, found)
    helpers = {
        "__init__",
        "fanout",
        "delivery",
        "timeline_files",
    }  # no sink of alerts: what sinks share
    assert {p.stem for p in (PACKAGE / "sinks").glob("*.py")} - helpers == set(SINKS)
    for target in SOURCES.values():
        assert callable(resolve(target).from_config)
