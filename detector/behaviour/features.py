"""The behaviour features of a (port, window), from the window counts: the model's input.

Only counts about ports and addresses, never payload. Counts enter the model as log(1 + x), so
that a ten-fold jump weighs the same for a quiet port and a busy one; shares stay as they are;
the ratio to the port's own recent history enters as log2.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from detector.values import WINDOW_COUNTS, WindowRows

F64 = npt.NDArray[np.float64]

FEATURES = (
    "packets", "bytes", "dst_ips", "dst_ports", "syn_share", "arp_requests", "arp_targets",
    "nd_messages", "dhcp_messages", "dhcp_clients", "group_share", "new_peers", "history_ratio",
)  # fmt: skip
SHARES = ("syn_share", "group_share")
RATIOS = ("history_ratio",)
COUNTS = tuple(f for f in FEATURES if f not in SHARES + RATIOS)
# What a feature must move, in model space, before it counts as far from its baseline: one
# more event doubles a count's log(1 + x) from 0; a share of 5 points; a doubling of a ratio.
FLOORS = np.array(
    [0.05 if f in SHARES else 1.0 if f in RATIOS else float(np.log(2)) for f in FEATURES]
)
HISTORY_WEIGHT = 0.3  # the weight of the newest window in a port's moving average of packets
HISTORY_PORTS = 1 << 20  # ports remembered for their history (the longest unseen forgotten)

_C = {name: WINDOW_COUNTS.index(name) for name in WINDOW_COUNTS}


class History:
    """Each port's moving average of packets per window, to compare a window with. A window
    the detector found anomalous does not enter it: an attack must not become the norm."""

    def __init__(self, max_ports: int = HISTORY_PORTS) -> None:
        self.average: OrderedDict[tuple[str, int], float] = OrderedDict()
        self.max_ports = max_ports

    def ratios(self, rows: WindowRows, part: slice) -> F64:
        """Packets of each row over its port's average, at least 1 (a quieter window says
        nothing of an attack); 1 for a port's first window."""
        out = np.ones(part.stop - part.start)
        for i, key, n in self._rows(rows, part):
            before = self.average.get(key)
            if before is not None:
                out[i] = max(1.0, (n + 1.0) / (before + 1.0))
        return out

    def update(self, rows: WindowRows, part: slice, keep: npt.NDArray[np.bool_]) -> None:
        avg = self.average
        for i, key, n in self._rows(rows, part):
            if not keep[i]:
                continue
            before = avg.pop(key, None)
            avg[key] = float(n) if before is None else before + HISTORY_WEIGHT * (n - before)
        while len(avg) > self.max_ports:
            avg.popitem(last=False)

    @staticmethod
    def _rows(rows: WindowRows, part: slice) -> Iterator[tuple[int, tuple[str, int], int]]:
        packets = rows.counts[part, _C["packets"]].tolist()
        keys = zip(rows.segment[part], rows.mac[part].tolist(), strict=True)
        for i, (key, n) in enumerate(zip(keys, packets, strict=True)):
            yield i, key, n


def windows(rows: WindowRows) -> Iterator[slice]:
    """The rows of each window in turn (rows come sorted by window): the history of a port
    must take one window before it judges the next."""
    starts = rows.start_ns
    if not len(starts):
        return
    cuts = [0, *(np.flatnonzero(starts[1:] != starts[:-1]) + 1).tolist(), len(starts)]
    for lo, hi in itertools.pairwise(cuts):
        yield slice(lo, hi)


def natural(rows: WindowRows, part: slice, history: History) -> F64:
    """The features of rows[part] in their own units: (rows, len(FEATURES))."""
    c = rows.counts[part].astype(np.float64)
    packets = np.maximum(c[:, _C["packets"]], 1.0)
    columns = {
        "packets": c[:, _C["packets"]],
        "bytes": c[:, _C["bytes"]],
        "dst_ips": c[:, _C["dst_ips"]],
        "dst_ports": c[:, _C["dst_ports"]],
        "syn_share": c[:, _C["syn"]] / packets,
        "arp_requests": c[:, _C["arp_requests"]],
        "arp_targets": c[:, _C["arp_targets"]],
        "nd_messages": c[:, _C["nd_messages"]],
        "dhcp_messages": c[:, _C["dhcp_messages"]],
        "dhcp_clients": c[:, _C["dhcp_clients"]],
        "group_share": c[:, _C["group"]] / packets,
        "new_peers": c[:, _C["new_peers"]],
        "history_ratio": history.ratios(rows, part),
    }
    return np.column_stack([columns[f] for f in FEATURES])


def model_space(values: F64) -> F64:
    """Natural units to what the model sees."""
    out = values.copy()
    for j, name in enumerate(FEATURES):
        if name in COUNTS:
            out[:, j] = np.log1p(values[:, j])
        elif name in RATIOS:
            out[:, j] = np.log2(values[:, j])
    return out
