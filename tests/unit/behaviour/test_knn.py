"""The nearest-neighbour score equals scikit-learn's neighbour distances; training scores leave
each window out."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from detector.behaviour import knn


def test_the_score_is_the_mean_distance_to_the_k_nearest_training_windows() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 13)) * rng.uniform(0.5, 3, 13)
    model, own = knn.fit(x, np.full(13, 0.1), 5)
    probe = np.vstack([rng.normal(size=(30, 13)), x[:5] + 20])
    z = (x - np.median(x, axis=0)) / x.std(axis=0)
    nn = NearestNeighbors(n_neighbors=5).fit(z)
    want = nn.kneighbors((probe - np.median(x, axis=0)) / x.std(axis=0))[0].mean(axis=1)
    np.testing.assert_allclose(model.score(probe), want, rtol=1e-9)
    # a training window's own score: its 5 nearest *other* windows
    others = NearestNeighbors(n_neighbors=6).fit(z).kneighbors(z)[0][:, 1:].mean(axis=1)
    np.testing.assert_allclose(own, others, rtol=1e-9)
    assert (model.score(probe[-5:]) > 5 * own.max()).all()  # far away scores far higher


def test_a_feature_that_never_varied_is_scaled_by_its_floor_not_by_zero() -> None:
    x = np.zeros((100, 3))
    x[:, 0] = np.arange(100)
    model, _ = knn.fit(x, np.array([1.0, 0.5, 0.5]), 5)
    assert model.scale.tolist() == [x[:, 0].std(), 0.5, 0.5]
    assert np.isfinite(model.score(np.array([[50.0, 1.0, 0.0]]))).all()
