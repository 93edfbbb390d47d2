"""The batch path's shard of a column of segments is the engine's shard of each name."""

from __future__ import annotations

import numpy as np
import pytest

from detector.shards import SHARD_MIX, TUNNEL_CODES, shard_of


@pytest.mark.parametrize("n", [2, 3, 7])
def test_columns_and_names_agree_on_every_shard(n: int) -> None:
    vnis = np.arange(0, 1 << 24, 977, dtype=np.uint64)
    for kind, code in TUNNEL_CODES.items():
        seg = (np.uint64(code) << np.uint64(24)) | vnis
        shards = ((seg * np.uint64(SHARD_MIX)) >> np.uint64(32)) % np.uint64(n) + np.uint64(1)
        assert shards.tolist() == [shard_of(f"{kind}:{v}", n) for v in vnis.tolist()]
    counts = np.bincount(shards.astype(np.intp), minlength=n + 1)[1:]
    assert counts.min() > 0.9 * len(vnis) / n  # an even share each


def test_other_segments_by_name() -> None:
    assert {shard_of(s, 4) for s in ("vlan:10", "untagged", "erspan:3/vlan:10")} <= {1, 2, 3, 4}
    assert shard_of("vlan:10", 1) == 1
