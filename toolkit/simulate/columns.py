"""Small helpers for the simulation's numpy columns."""

from __future__ import annotations

import numpy as np


def filled(value, n: int, dtype) -> np.ndarray:
    """A column of n values: `value` itself if it is one already, else n copies of it (cheaper
    than np.broadcast_to on the many small columns a simulation adds)."""
    if np.ndim(value):
        return np.asarray(value, dtype=dtype)
    return np.full(n, value, dtype=dtype)


def distinct_codes(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True) for integers in [0, size), in time linear in both
    (no sort or hash): the distinct values in order, and each value's place among them."""
    seen = np.zeros(size, dtype=bool)
    seen[values] = True
    place = np.cumsum(seen) - 1
    return np.flatnonzero(seen), place[values]
