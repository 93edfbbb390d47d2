"""What a person reads on stderr: the progress bar and the end-of-run summary."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, TextIO

from detector.detectors.engine import AlertKey, Engine
from detector.sources.capture import CaptureInfo
from detector.values import AlertKind, DecodeStats

if TYPE_CHECKING:
    from detector.bindings.nsx import Imported
    from detector.bindings.wiremap import WireMap
    from detector.config.nsx import NsxConfig


class ProgressBar:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self.out = out
        self.last = 0.0

    def __call__(self, info: CaptureInfo, packets: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        if info.size:
            share = min(1.0, info.position / info.size)
            bar = "#" * int(share * 30)
            text = f"[{bar:<30}] {share:4.0%} {info.name} {packets:,} packets"
        else:
            text = f"{info.name} {packets:,} packets"
        self.out.write("\r" + text[:100].ljust(100))
        self.out.flush()

    def done(self) -> None:
        if self.last:
            self.out.write("\r" + " " * 100 + "\r")
            self.out.flush()


def pairs(counter: Counter[str] | Counter[tuple[str, str]]) -> str:
    if not counter:
        return "none"
    items = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return ", ".join(f"{'/'.join(k) if isinstance(k, tuple) else k} {n:,}" for k, n in items)


def render(
    captures: list[CaptureInfo],
    stats: DecodeStats,
    engine: Engine,
    seconds: float,
    top: int = 5,
    tallies: dict[AlertKey, int] | None = None,
) -> str:
    """The end-of-run summary: volumes, decode health, alerts by kind, worst ports (from
    `tallies`, packets by alert key, when not the engine's own)."""
    rate = stats.packets / seconds if seconds > 0 else 0.0
    lines = [
        f"spoofwatch: {_plural(len(captures), 'capture')}, {_plural(stats.packets, 'packet')},"
        f" {sum(stats.frames.values()):,} inner frames in {seconds:.2f} s ({rate:,.0f} packets/s)",
        f"  frames by encapsulation: {pairs(stats.frames)}",
        f"  decode errors: {pairs(stats.errors)}",
    ]
    if stats.skipped:
        lines.append(f"  packets not decoded: {pairs(stats.skipped)}")
    if stats.cut:
        lines.append(
            f"  {_plural(stats.cut, 'packet')} cut short by the capture's snap length"
            " (decoded as far as they go)"
        )
    for info in captures:
        if info.truncated:
            lines.append(f"  {info.name}: {info.truncated}")
    ignored = Counter(
        {k.split(":", 1)[1]: n for k, n in engine.stats.frames.items() if k.startswith("ignored:")}
    )
    if ignored:
        lines.append(f"  frames not inspected: {pairs(ignored)}")
    alerts = engine.stats.alerts
    packets = engine.stats.findings
    kinds = ", ".join(
        f"{k} {n:,} ({_plural(packets[k], 'packet')})" for k, n in sorted(alerts.items())
    )
    lines.append(f"  alerts by kind: {kinds or 'none'}")
    worst = Counter[tuple[str, str, str]]()
    if tallies is None:
        tallies = {k: t.count for k, t in engine.tallies.items()}
    for (kind, port, address), n in tallies.items():
        if kind in (AlertKind.UNBOUND_SOURCE, AlertKind.ARP_CONFLICT, AlertKind.ND_CONFLICT):
            worst[(port.segment, port.mac, f"{kind} from {address}")] += n
    if worst:
        lines.append("  top offending ports:")
        ranked = sorted(worst.items(), key=lambda kv: (-kv[1], kv[0]))  # ties: by port
        for (segment, mac, what), n in ranked[:top]:
            lines.append(f"    {segment:<16} {mac}  {what}: {_plural(n, 'packet')}")
    if stats.packets and not engine.stats.frames.get("inspected"):
        lines.append(_nothing_inspected(stats, ignored))
    return "\n".join(lines)


def _nothing_inspected(stats: DecodeStats, ignored: Counter[str]) -> str:
    """The warning that ends a run in which no packet reached the binding checks, and why."""
    why = [f"not decoded: {pairs(stats.skipped)}"] if stats.skipped else []
    if stats.errors:
        why.append(f"malformed: {pairs(stats.errors)}")
    if ignored:
        why.append(f"not inspected: {pairs(ignored)}")
    links = [reason for layer, reason in stats.skipped if layer == "link"]
    hint = (
        f" ({', '.join(links)}: spoofwatch reads Ethernet, Linux cooked, raw IP and loopback"
        " captures)"
        if links
        else ""
    )
    reasons = "; ".join(why) or "no frame came out of a tunnel"
    return (
        f"spoofwatch: warning: no packet could be inspected, so none was checked: {reasons}{hint}"
    )


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def finish(summary: str, failures: list[str]) -> int:
    """Print a command's summary and its failures on stderr; the exit status they make."""
    print(summary, file=sys.stderr)
    for failure in failures:
        print(f"spoofwatch: error: {failure}", file=sys.stderr)
    return 1 if failures else 0


def nsx_state(path: str | None, cfg: NsxConfig | None, quiet: bool) -> dict[str, Any] | None:
    """NSX's state for a command (detector.nsx.state), its pull's progress on stderr."""
    from detector.nsx import state

    say = None if quiet else (lambda text: print(f"spoofwatch: nsx: {text}", file=sys.stderr))
    return state.load(path, cfg, say)


def nsx_line(snapshot: dict[str, Any], done: Imported) -> str:
    """What the NSX import gave the table, for the end-of-run summary."""
    from detector.nsx.snapshot import vni_methods

    return (
        f"  NSX {snapshot.get('manager')} as of {snapshot.get('pulled_at')}:"
        f" {_plural(done.ports, 'port')}, {_plural(done.bindings, 'realized binding')} imported"
        + (f"; {done.unnamed} NSX ports had no MAC or VNI to match" if done.unnamed else "")
        + "; segments by VNI: "
        + ", ".join(f"{k} {n}" for k, n in sorted(vni_methods(snapshot).items()))
    )


def wire_lines(wire: WireMap | None) -> list[str]:
    """NSX segments whose VNI the wire gave (their MACs seen on it), and conflicting evidence."""
    if wire is None:
        return []
    out = [
        f"  NSX segment {path} mapped to {name} by the wire" for path, name in wire.mapped.items()
    ]
    for path, others in wire.conflicts.items():
        seen = ", ".join(sorted(others))
        out.append(f"  warning: NSX segment {path} also seen on {seen}; kept {wire.mapped[path]}")
    unmapped = sorted(wire.waiting)
    if unmapped:
        names = ", ".join(unmapped)
        out.append(f"  NSX segments with no VNI (ports judged by trust on first use): {names}")
    return out
