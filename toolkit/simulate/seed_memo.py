"""Texts that depend only on a user's seed, kept per process from one shard to the next.

A registered user comes back day after day, and each day's shard would otherwise make their
identify traits (faker values, addresses, JSON objects) again. A memo per kind of text keeps
them by seed; it is emptied when it passes its limit, so memory stays bounded whatever the run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LIMIT = 100_000  # texts kept per kind (a few hundred bytes each)


class SeedMemo:
    def __init__(self, limit: int = LIMIT):
        self.limit = limit
        self._texts: dict[object, dict[int, str]] = {}

    def texts(
        self, kind: object, seeds: np.ndarray, make: Callable[[np.ndarray], list | np.ndarray]
    ) -> np.ndarray:
        """Each seed's text of this kind: kept ones as they were, the others from `make(seeds)`
        (one text a seed, a pure function of the seed)."""
        kept = self._texts.setdefault(kind, {})
        keys = seeds.tolist()
        found = np.array([kept.get(key) for key in keys], dtype=object)
        missing = np.flatnonzero([key not in kept for key in keys])
        if len(missing):
            made = make(seeds[missing])
            found[missing] = made
            if len(kept) + len(missing) > self.limit:
                kept.clear()
            kept.update(zip([keys[i] for i in missing.tolist()], found[missing].tolist(), strict=True))
        return found


MEMO = SeedMemo()  # the process's own: forked workers each fill theirs
