"""The model file: a round trip keeps everything; anything else is refused with one line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from detector.behaviour import knn, modelfile
from detector.behaviour.features import FEATURES, FLOORS
from detector.behaviour.modelfile import Baseline, Model
from detector.errors import ConfigError

F = len(FEATURES)


def model() -> Model:
    rng = np.random.default_rng(3)
    fitted, _ = knn.fit(rng.normal(size=(200, F)), FLOORS, 5)
    base = Baseline(np.zeros(F), np.ones(F), 200)
    peers = np.array([[0, 0xFFFF_FFFF_FFFF_FFFF, 0x0A010114]], np.uint64)
    return Model(fitted, 10.0, 4.5, {"*": base, "geneve:5001": base}, ("geneve:5001",), peers,
                 {"windows": 200})  # fmt: skip


def rewrite(path: Path, out: Path, **changes: object) -> None:
    """Copy a model file with header keys or arrays replaced."""
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(bytes(arrays["header"]).decode())
    for key, value in changes.items():
        if key in header:
            header[key] = value
        else:
            arrays[key] = value  # type: ignore[assignment]
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    out.write_bytes(buf.getvalue())


def test_round_trip(tmp_path: Path) -> None:
    m = model()
    modelfile.save(m, str(tmp_path / "m.npz"))
    back = modelfile.load(str(tmp_path / "m.npz"))
    np.testing.assert_array_equal(back.knn.points, m.knn.points)
    assert (back.threshold, back.window_seconds, back.knn.k) == (4.5, 10.0, 5)
    assert back.peer_segments == ("geneve:5001",) and back.peers.tolist() == m.peers.tolist()
    assert set(back.baselines) == {"*", "geneve:5001"} and back.info == {"windows": 200}
    x = np.random.default_rng(1).normal(size=(4, F))
    np.testing.assert_array_equal(back.knn.score(x), m.knn.score(x))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"features": ["packets", "bytes"]}, "was trained on other features (packets, bytes)"),
        ({"version": 99}, "has format version 99; this spoofwatch reads version 1"),
        ({"format": "something-else"}, "is not a spoofwatch behaviour model"),
        ({"knn_points": np.full((200, F), np.nan)}, "is damaged (the model holds values"),
        ({"knn_scale": np.zeros(F)}, "is damaged (the scaling does not match"),
        ({"peers": np.array([[5, 0, 0]], np.uint64)}, "names a segment it does not have"),
        ({"k": 0}, "is damaged (k = 0 is not between 1"),
        ({"knn_points": np.array(["x"], dtype=object)}, "is not a spoofwatch behaviour model"),
    ],
)
def test_a_bad_model_is_refused_with_one_line(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    modelfile.save(model(), str(tmp_path / "m.npz"))
    rewrite(tmp_path / "m.npz", tmp_path / "bad.npz", **change)
    with pytest.raises(ConfigError) as err:
        modelfile.load(str(tmp_path / "bad.npz"))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("content", [b"", b"not a model", b"PK\x03\x04" + bytes(100)])
def test_a_file_that_is_no_model_is_refused(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "m.npz").write_bytes(content)
    with pytest.raises(ConfigError, match="is not a spoofwatch behaviour model"):
        modelfile.load(str(tmp_path / "m.npz"))


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the model .*No such file"):
        modelfile.load(str(tmp_path / "absent.npz"))
