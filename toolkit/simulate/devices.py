"""The devices a platform's users have: a few shared device/app/locale contexts ("variants"),
each user on one of them, chosen by the user's own word, so a user keeps their device (and its
time zone) on every day and in every process."""

from __future__ import annotations

import functools
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from toolkit.segment.ids import derive_seed
from toolkit.segment.libraries import LIBRARIES
from toolkit.simulate.draws import below

DEVICE_VARIANTS = 64  # distinct device/app/locale combinations per platform


def user_variants(device_words: np.ndarray) -> np.ndarray:
    """Each user's device variant, from their device word (Users.words[1])."""
    return below(device_words >> np.uint64(40), DEVICE_VARIANTS)


@functools.cache
def device_contexts(run_seed: int, platform: str, library_name: str) -> list[dict]:
    """The platform's shared device/app contexts: DEVICE_VARIANTS of them, the same on every day of a run."""
    library = LIBRARIES[library_name]
    rng = random.Random(derive_seed(run_seed, platform, "devices"))
    return [library.context(rng) for _ in range(DEVICE_VARIANTS)]


@functools.cache
def utc_offsets_ms(run_seed: int, platform: str, library_name: str, day: date) -> np.ndarray:
    """Each variant's offset from UTC on `day` (at noon), by the time zone its context names (0
    without one)."""
    noon = datetime(day.year, day.month, day.day, 12)
    offsets = []
    for shared in device_contexts(run_seed, platform, library_name):
        zone = shared.get("timezone")
        offset = timedelta() if zone is None else ZoneInfo(zone).utcoffset(noon) or timedelta()
        offsets.append(int(offset.total_seconds() * 1000))
    return np.array(offsets, dtype=np.int64)
