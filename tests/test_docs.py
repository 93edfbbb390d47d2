"""The documentation: generated references equal what the code declares, the README stays a guide."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from detector.config import checks
from tests.conftest import ROOT


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_reference", ROOT / "docs" / "gen_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_reference", module)
    spec.loader.exec_module(module)
    return module


def test_the_generated_references_equal_what_the_code_declares() -> None:
    gen = generator()
    assert (ROOT / "docs/reference/configuration.md").read_text() == gen.configuration()
    assert (ROOT / "docs/reference/metrics.md").read_text() == gen.metrics()


def test_every_key_and_metric_is_in_the_reference() -> None:
    gen = generator()
    config_page = gen.configuration()
    for section, keys in gen.all_checks().items():
        assert f"## `[{section}]`" in config_page
        for key, check in keys.items():
            assert checks.expects(check), (
                f"{section}.{key}: its check says nothing of what it accepts"
            )
            assert f"| `{key}` | {checks.expects(check)} |" in config_page
    metrics_page = gen.metrics()
    for name in gen.CATALOGUE:
        assert f"| `{name}` |" in metrics_page


def test_a_key_no_example_documents_fails_the_generation(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    gen = generator()
    monkeypatch.setitem(
        gen.SECTIONS, "decode", {**gen.SECTIONS["decode"], "new_key": checks.boolean}
    )
    try:
        gen.configuration()
    except SystemExit as exc:
        assert "decode.new_key" in str(exc)
    else:
        raise AssertionError("an undocumented key went into the reference unnoticed")


def test_the_readme_is_a_guide_not_a_manual() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 300
    for heading in ("## Two commands", "## A worked example", "## Where to read on"):
        assert heading in readme
