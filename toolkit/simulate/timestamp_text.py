"""Segment's timestamp text (2019-05-02T03:19:05.398Z) for whole columns of epoch milliseconds,
vectorised with numpy for the simulator."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from toolkit.segment.timestamps import DAY_MS

_EPOCH = date(1970, 1, 1)
_ISO_MILLIS = np.dtype(
    [("date", "S10"), ("t", "S1"), ("clock", "S8"), ("dot", "S1"), ("millis", "S3"), ("z", "S1")]
)


def _digit_texts(values: np.ndarray, *units: int) -> np.ndarray:
    """Each value's decimal digits at the given units (e.g. 10, 1) as ASCII: an (n, len(units)) array."""
    return (np.stack([values // unit % 10 for unit in units], axis=1) + ord("0")).astype(np.uint8)


def _clock_texts() -> np.ndarray:
    """Item s: the text HH:MM:SS of second s of a day."""
    second = np.arange(86_400)
    colon = np.full((86_400, 1), ord(":"), dtype=np.uint8)
    parts = [
        _digit_texts(second // 3600, 10, 1),
        colon,
        _digit_texts(second // 60 % 60, 10, 1),
        colon,
        _digit_texts(second % 60, 10, 1),
    ]
    return np.hstack(parts).view("S8").ravel()


_CLOCK = _clock_texts()
_MILLIS = _digit_texts(np.arange(1000), 100, 10, 1).view("S3").ravel()


def iso_millis_bytes(epoch_ms: np.ndarray) -> np.ndarray:
    """Segment's text of each epoch-millisecond time, vectorised: an (n, 24) uint8 array whose
    rows read e.g. 2019-05-02T03:19:05.398Z. Fields are gathered from tables of their texts."""
    if not len(epoch_ms):
        return np.zeros((0, 24), dtype=np.uint8)
    days = epoch_ms // DAY_MS
    first = int(days.min())
    dates = np.array(
        [(_EPOCH + timedelta(days=first + d)).isoformat() for d in range(int(days.max()) - first + 1)],
        dtype="S10",
    )
    seconds, millis = np.divmod((epoch_ms - days * DAY_MS).astype(np.int32), 1000)
    text = np.empty(len(epoch_ms), dtype=_ISO_MILLIS)
    text["t"], text["dot"], text["z"] = b"T", b".", b"Z"
    text["date"], text["clock"], text["millis"] = dates[days - first], _CLOCK[seconds], _MILLIS[millis]
    return text.view(np.uint8).reshape(-1, 24)
