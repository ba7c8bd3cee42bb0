"""Random identifiers drawn from a seeded generator, so simulated data is reproducible."""

from __future__ import annotations

import hashlib
import random

_VERSION_4 = (0x4 << 76) | (0x8 << 60)
_CLEAR = ~((0xF << 76) | (0xC << 60))


def uuid4_text(rng: random.Random) -> str:
    """A version-4 UUID in lower-case text form."""
    h = "%032x" % ((rng.getrandbits(128) & _CLEAR) | _VERSION_4)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def hex_id(rng: random.Random, digits: int) -> str:
    """`digits` lower-case hex digits."""
    return "%0*x" % (digits, rng.getrandbits(4 * digits))


def derive_seed(*parts: object) -> int:
    """A 64-bit seed derived from parts (the run's seed, a day, a source...), stable across processes."""
    text = "\x1f".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


class HashStream:
    """A tiny deterministic random stream from a seed, for a user's handful of identity draws.

    Seeding a random.Random costs ~7 us (Mersenne Twister set-up); this costs ~1 us plus
    ~0.3 us a draw. It offers the subset of random.Random the simulation uses.
    """

    __slots__ = ("_seed", "_counter", "_bits", "_left")

    def __init__(self, seed: int):
        self._seed = seed.to_bytes(8, "little")
        self._counter = 0
        self._left = 0
        self._bits = 0

    def getrandbits(self, k: int) -> int:
        if k > self._left:
            self._counter += 1
            block = hashlib.blake2b(self._seed, digest_size=64, salt=self._counter.to_bytes(16, "little")).digest()
            self._bits |= int.from_bytes(block, "little") << self._left
            self._left += 512
        value = self._bits & ((1 << k) - 1)
        self._bits >>= k
        self._left -= k
        return value

    def random(self) -> float:
        return self.getrandbits(53) / 9007199254740992.0

    def randrange(self, start: int, stop: int | None = None) -> int:
        if stop is None:
            start, stop = 0, start
        return start + int(self.random() * (stop - start))

    def randint(self, low: int, high: int) -> int:
        return self.randrange(low, high + 1)

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()
