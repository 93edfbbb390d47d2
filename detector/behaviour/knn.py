"""Nearest-neighbour distance: how far a window lies from the training windows nearest to it.

A window's score is its mean Euclidean distance to the k nearest training windows, with every
feature first centred on its training median and divided by its spread (its standard deviation,
at least a floor per feature): a score of 1 is about one feature's spread from the nearest
normal behaviour. The training windows are stored as plain arrays; scikit-learn's KD-tree
(Bentley, CACM 1975) finds the neighbours, rebuilt from them when a model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
ARRAYS = ("points", "center", "scale")


@dataclass(frozen=True, slots=True)
class Knn:
    """Training windows (scaled), the scaling, and k."""

    points: F64  # (n, features), scaled
    center: F64
    scale: F64
    k: int
    tree: Any = field(default=None, compare=False, repr=False)

    def score(self, x: F64) -> F64:
        """The mean distance of each row of x (rows, features; model space) to its k nearest
        training windows, in units of the features' spreads."""
        if not len(x):
            return np.zeros(0)
        dist, _ = self.tree.query((x - self.center) / self.scale, k=self.k)
        return np.asarray(dist.mean(axis=1))

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        return {name: getattr(self, name) for name in ARRAYS}

    @classmethod
    def of(cls, points: F64, center: F64, scale: F64, k: int) -> Knn:
        """Check the arrays (scoring must not fail half-way) and build the search tree."""
        from sklearn.neighbors import KDTree

        n, f = points.shape if points.ndim == 2 else (0, 0)
        if n == 0 or f == 0:
            raise ValueError("no training windows")
        if center.shape != (f,) or scale.shape != (f,) or not (scale > 0).all():
            raise ValueError("the scaling does not match the features")
        if not 1 <= k <= n:
            raise ValueError(f"k = {k} is not between 1 and the {n} training windows")
        if not all(np.isfinite(a).all() for a in (points, center, scale)):
            raise ValueError("the model holds values that are not finite")
        return cls(points, center, scale, k, KDTree(points))

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[Any]], k: int) -> Knn:
        points, center, scale = (arrays[n].astype(np.float64) for n in ARRAYS)
        return cls.of(points, center, scale, k)


def fit(x: F64, floors: F64, k: int) -> tuple[Knn, F64]:
    """Keep training windows x (model space), scaled; also return each one's own score among
    the others (itself left out), from which the alert threshold is set."""
    center = np.median(x, axis=0)
    scale = np.maximum(x.std(axis=0), floors)
    knn = Knn.of((x - center) / scale, center, scale, min(k, len(x) - 1))
    dist, _ = knn.tree.query(knn.points, k=knn.k + 1)
    return knn, np.asarray(dist[:, 1:].mean(axis=1))
