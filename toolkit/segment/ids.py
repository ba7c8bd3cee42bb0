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
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def derive_seed(*parts: object) -> int:
    """A 64-bit seed derived from parts (the run's seed, a day, a source...), stable across processes."""
    text = "\x1f".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
