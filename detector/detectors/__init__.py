"""Policy: an observation (frame, port, what it taught) and the binding table in, findings out.

Each detector is one module with one name, listed in PLUGINS; the engine imports them lazily.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from detector.bindings.table import BindingTable, LearnResult
from detector.config.bindings import TrustPolicy
from detector.errors import ConfigError
from detector.plugins import PLUGINS as PLUGINS
from detector.plugins import WINDOW_PLUGINS as WINDOW_PLUGINS
from detector.plugins import resolve
from detector.values import AlertKind, Binding, Evidence, Frame, PortKey, Severity


@dataclass(frozen=True, slots=True)
class Observation:
    """One inner frame attributed to a port, with what learning did and where it was seen."""

    frame: Frame
    port: PortKey
    evidence: Evidence
    learned: tuple[LearnResult, ...]
    previous_endpoint: str | None  # the tunnel endpoint this port was seen behind before
    gateway: bool  # the source MAC belongs to a router (it forwards foreign sources)
    tracked: bool = True  # False: the table was full; its table-full alert speaks for the port


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector reports; the engine deduplicates it and turns it into an Alert."""

    kind: AlertKind
    severity: Severity
    address: str | None  # the offending address (the alert's src_ip)
    message: str
    impersonates: tuple[PortKey, Binding] | None = None
    detail: tuple[tuple[str, object], ...] = ()
    key: str | None = None  # deduplicate on (kind, port, key) instead of (kind, port, address)


@dataclass(frozen=True, slots=True)
class Context:
    """What detectors may read: the table, the trust policy, and strict mode."""

    table: BindingTable
    trust: TrustPolicy
    strict: bool = False


class Detector(Protocol):
    """A detector inspects one observation and returns what it finds."""

    name: ClassVar[str]

    def inspect(self, obs: Observation, ctx: Context) -> list[Finding]: ...


def load(name: str) -> Detector:
    """Instantiate a detector by its registry name."""
    target = PLUGINS.get(name)
    if target is None:
        raise ConfigError(f"unknown detector {name!r}; known: {', '.join(sorted(PLUGINS))}")
    detector: Detector = resolve(target)()
    return detector


def owner_of(
    ctx: Context, segment: str, address: str, now_ns: int
) -> tuple[PortKey, Binding] | None:
    """The port an address is realized on in a segment, with its binding, if any."""
    owner = ctx.table.owner(segment, address, now_ns)
    if owner is None:
        return None
    binding = ctx.table.binding(owner, address)
    return (owner, binding) if binding else None
