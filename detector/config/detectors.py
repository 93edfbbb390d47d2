"""The [detectors] and [segments] sections' values: which detectors run, on which segments."""

from __future__ import annotations

from dataclasses import dataclass

from detector.plugins import PLUGINS


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Which detectors run and how alerts are attributed and repeated."""

    detectors: tuple[str, ...] = tuple(PLUGINS)
    inspect_untunnelled: bool = False  # treat un-tunnelled frames as VM traffic (plain SPAN)
    scope_by_session: bool = False  # ERSPAN: one segment per mirror session
    strict: bool = False  # a port with no binding is spoofing, not merely unlearned
    realert_ns: int = 0  # 0: one alert per (kind, port, address) for the whole run
    max_alert_keys: int = 100_000
    only: frozenset[str] = frozenset()  # [segments] only: these segments, none other (empty: all)
    shard: tuple[int, int] = (1, 1)  # [segments] shard "k/n": segments whose hash mod n is k-1
