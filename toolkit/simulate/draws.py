"""Vectorised, seed-addressable random draws (numpy).

A user's identity must be the same on every day they come back, whichever process simulates
that day, so it is a pure function of the user's seed: word k of a user is SplitMix64 of
seed + k * golden ratio. Everything else is drawn from a per-shard numpy Generator.
"""

from __future__ import annotations

import functools

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_C1 = np.uint64(0xBF58476D1CE4E5B9)
_C2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / (1 << 53)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function over a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _C1
        z = (z ^ (z >> np.uint64(27))) * _C2
        return z ^ (z >> np.uint64(31))


def seed_words(seeds: np.ndarray, count: int) -> np.ndarray:
    """`count` independent 64-bit words per seed: shape (count, len(seeds))."""
    with np.errstate(over="ignore"):
        offsets = np.arange(1, count + 1, dtype=np.uint64)[:, None] * GOLDEN
        return splitmix64(seeds[None, :].astype(np.uint64) + offsets)


def unit(words: np.ndarray) -> np.ndarray:
    """Floats in [0, 1) from 64-bit words."""
    return (words >> np.uint64(11)).astype(np.float64) * _TO_UNIT


def below(words: np.ndarray, n: int) -> np.ndarray:
    """Integers in [0, n) from 64-bit words."""
    return (words % np.uint64(n)).astype(np.int64)


def weighted_below(words: np.ndarray, weights: tuple[float, ...] | None, n: int) -> np.ndarray:
    """Integers in [0, n) from 64-bit words, index i with probability weights[i] / sum (equal
    without weights)."""
    if weights is None:
        return below(words, n)
    return drawn_by(_cumulative(weights), words)


def drawn_by(cumulative: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Integers in [0, len(cumulative)) from 64-bit words, by a cumulative distribution ending at 1."""
    return np.minimum(np.searchsorted(cumulative, unit(words), side="right"), len(cumulative) - 1)


def joint_cumulative(weights: list[tuple[float, ...] | None], sizes: list[int]) -> np.ndarray:
    """The cumulative distribution of independent draws (weights, or equal chances where None)
    numbered in mixed radix, the first the most significant: itertools.product's order."""
    joint = np.ones(1)
    for chances, size in zip(weights, sizes, strict=True):
        p = (
            np.full(size, 1.0 / size)
            if chances is None
            else np.asarray(chances, dtype=np.float64) / sum(chances)
        )
        joint = np.outer(joint, p).ravel()
    cumulative = np.cumsum(joint)
    return cumulative / cumulative[-1]


@functools.lru_cache(maxsize=1024)
def _cumulative(weights: tuple[float, ...]) -> np.ndarray:
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    return cumulative / cumulative[-1]


def as_uuid4(high: np.ndarray, low: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Set the version (4) and variant (10xx) bits of 128-bit ids made of two words."""
    return (high & ~np.uint64(0xF000)) | np.uint64(0x4000), (
        low & np.uint64(0x3FFF_FFFF_FFFF_FFFF)
    ) | np.uint64(0x8000_0000_0000_0000)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_DIGITS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])  # where a UUID's 32 digits go


def uuid_texts(high: np.ndarray, low: np.ndarray) -> list[str]:
    """The 128-bit ids of two words as UUID text (8-4-4-4-12 lowercase hex digits), vectorised."""
    raw = np.stack([high, low], axis=1).astype(">u8").view(np.uint8).reshape(-1, 16)
    digits = np.stack([raw >> 4, raw & 15], axis=2).reshape(-1, 32)
    text = np.full((len(raw), 36), ord("-"), dtype=np.uint8)
    text[:, _UUID_DIGITS] = _HEX[digits]
    return [value.decode() for value in text.view("S36").ravel().tolist()]
