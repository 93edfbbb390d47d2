"""Features of a window, and the port's history that an anomalous window does not enter."""

from __future__ import annotations

import numpy as np

from detector.behaviour.features import FEATURES, History, model_space, natural, windows
from detector.values import WINDOW_COUNTS, WindowRows


def rows(packets: list[int], starts: list[int], **counts: list[int]) -> WindowRows:
    n = len(packets)
    c = np.zeros((n, len(WINDOW_COUNTS)), np.int64)
    c[:, 0] = packets
    for name, values in counts.items():
        c[:, WINDOW_COUNTS.index(name)] = values
    return WindowRows(
        "t.pcap", ("geneve:1",) * n, (1,) * n, np.full(n, 7, np.uint64),
        np.array(starts, np.int64), np.zeros(n, np.int64), np.zeros(n, np.int64), c,
    )  # fmt: skip


def test_shares_and_counts() -> None:
    r = rows([10], [0], syn=[4], group=[5], arp_targets=[3], dst_ports=[2])
    v = dict(zip(FEATURES, natural(r, slice(0, 1), History())[0].tolist(), strict=True))
    assert v["syn_share"] == 0.4 and v["group_share"] == 0.5
    assert v["arp_targets"] == 3 and v["dst_ports"] == 2 and v["history_ratio"] == 1.0
    m = dict(zip(FEATURES, model_space(np.array([list(v.values())]))[0].tolist(), strict=True))
    assert m["packets"] == np.log1p(10) and m["syn_share"] == 0.4 and m["history_ratio"] == 0


def test_history_compares_with_the_port_average_and_skips_anomalous_windows() -> None:
    h = History()
    r = rows([10, 10, 100, 100, 0], [0, 10, 20, 30, 40])
    parts = list(windows(r))
    assert [(p.start, p.stop) for p in parts] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    got = []
    for p, keep in zip(parts, [True, True, False, True, True], strict=True):
        got.append(h.ratios(r, p)[0])
        h.update(r, p, np.array([keep]))
    # first window: 1; then 11/11; 101/11 (anomalous: not learned); again 101/11; a quiet
    # window is clipped to 1 (a VM going quiet is no attack)
    assert got == [1.0, 1.0, 101 / 11, 101 / 11, 1.0]


def test_history_forgets_the_longest_unseen_ports_past_its_cap() -> None:
    h = History(max_ports=2)
    for mac in range(5):
        r = rows([1], [0])
        r = WindowRows(r.source, r.segment, r.vni, np.array([mac], np.uint64), r.start_ns,
                       r.first_packet, r.first_ts_ns, r.counts)  # fmt: skip
        h.update(r, slice(0, 1), np.array([True]))
    assert [k[1] for k in h.average] == [3, 4]
