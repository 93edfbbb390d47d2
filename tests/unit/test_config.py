"""Configuration: defaults, validation errors that name the key, relative bindings paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.config import settings as config
from detector.errors import ConfigError


def test_defaults_are_nsx_defaults() -> None:
    c = config.parse({})
    assert (c.policy.arp_binding_limit, c.policy.nd_binding_limit) == (1, 3)
    assert c.policy.trust_on_first_use and c.policy.binding_timeout_ns == 600 * 10**9
    assert c.decode.geneve_ports == {6081} and c.decode.vxlan_ports == {4789, 8472}
    assert c.trust.is_gateway("02:50:56:56:44:52") and c.trust.is_gateway("00:00:5e:00:01:07")
    assert not c.trust.is_gateway("00:50:56:a1:00:01")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"bindngs": {}}, "unknown section [bindngs]"),
        ({"bindings": {"arp_limit": 2}}, "unknown key bindings.arp_limit"),
        (
            {"bindings": {"nd_binding_limit": 1}},
            "bindings.nd_binding_limit: expected an integer from 2",
        ),
        ({"decode": {"geneve_ports": [0]}}, "decode.geneve_ports: expected a list of UDP ports"),
        ({"decode": {"geneve_ports": [4789]}}, "port 4789 is given to two tunnel types"),
        ({"detectors": {"enabled": ["unbound"]}}, "unknown detector 'unbound'"),
        ({"bindings": {"gateway_macs": ["zz:00"]}}, "bindings.gateway_macs"),
        ({"bindings": {"dhcp_servers": [{"segment": "geneve:1"}]}}, "bindings.dhcp_servers[0]"),
        ({"segments": {"inspect_untunnelled": "yes"}}, "expected true or false"),
        ({"timeline": {"bucket_seconds": 1}}, "timeline.directory: where run writes"),
        (
            {"timeline": {"directory": "t", "bucket_seconds": 0}},
            "timeline.bucket_seconds: expected a number from 0.001 to 3600",
        ),
        ({"timeline": {"directory": "t", "max_mb": 0}}, "timeline.max_mb: expected an integer"),
    ],
)
def test_bad_values_name_the_key(doc: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError) as info:
        config.parse(doc)
    assert message in str(info.value)


def test_bindings_file_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[bindings]\nfile = "b.csv"\n')
    assert config.load(tmp_path / "c.toml").bindings_file == str(tmp_path / "b.csv")


def test_timeline_directory_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[timeline]\ndirectory = "tl"\nbucket_seconds = 0.25\n')
    t = config.load(tmp_path / "c.toml").timeline
    assert t is not None and t.directory == str(tmp_path / "tl") and t.bucket_seconds == 0.25
    assert (t.rotate_seconds, t.max_mb) == (600, 1024)


def test_toml_syntax_error_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[bindings\n")
    with pytest.raises(ConfigError, match=r"c\.toml"):
        config.load(tmp_path / "c.toml")


def test_numba_cache_is_off_where_its_directory_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numba

    from detector.jit import cache_usable

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba"), raising=False)
    assert cache_usable() and (tmp_path / "numba").is_dir()
    monkeypatch.setattr(numba.config, "CACHE_DIR", "/proc/spoofwatch-numba", raising=False)
    assert not cache_usable()


def test_the_shipped_configs_document_every_key() -> None:
    from detector.config.sinks import CHECKS

    root = Path(__file__).resolve().parents[2] / "pipelines"
    text = (root / "replay.toml").read_text() + (root / "live-geneve.toml").read_text()
    documented = set()
    section = ""
    for line in text.splitlines():
        line = line.lstrip("# ")
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and section:
            documented.add(f"{section}.{line.split('=')[0].strip()}")
    keys = {f"{s}.{k}" for s, checks in config.SECTIONS.items() for k in checks}
    keys |= {f"sinks.{s}.{k}" for s, checks in CHECKS.items() for k in checks}
    assert keys - documented == set()
