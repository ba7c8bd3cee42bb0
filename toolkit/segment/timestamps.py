"""Segment's timestamps: ISO-8601 UTC, stored with milliseconds, e.g. 2019-05-02T03:19:05.398Z."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)
_THREE_DIGITS = np.array([(i // 100, i // 10 % 10, i % 10) for i in range(1000)], dtype=np.uint8) + ord("0")


def _clock_table() -> np.ndarray:
    """Row s: the text HH:MM:SS of second s of a day."""
    second = np.arange(86_400)
    hh, mm, ss = (_THREE_DIGITS[second // unit % limit][:, 1:] for unit, limit in ((3600, 24), (60, 60), (1, 60)))
    colon = np.full((86_400, 1), ord(":"), dtype=np.uint8)
    return np.hstack([hh, colon, mm, colon, ss])


_CLOCK = _clock_table()


def day_epoch_ms(day: date) -> int:
    """UTC midnight of `day` as epoch milliseconds: the name of a Segment S3 day folder."""
    return (day.toordinal() - _EPOCH.toordinal()) * DAY_MS


def parse_iso(text: str) -> datetime:
    """Parse any ISO-8601 timestamp; naive ones are taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def iso_millis_bytes(epoch_ms: np.ndarray) -> np.ndarray:
    """Segment's text of each epoch-millisecond time, vectorised: an (n, 24) uint8 array whose
    rows read e.g. 2019-05-02T03:19:05.398Z."""
    days = epoch_ms // DAY_MS
    first = int(days.min()) if len(days) else 0
    dates = b"".join((_EPOCH + timedelta(days=first + d)).isoformat().encode() for d in range(int(days.max()) - first + 1 if len(days) else 0))
    seconds, millis = np.divmod((epoch_ms - days * DAY_MS).astype(np.int32), 1000)
    text = np.empty((len(epoch_ms), 24), dtype=np.uint8)
    text[:, 10], text[:, 19], text[:, 23] = ord("T"), ord("."), ord("Z")
    if len(days):
        text[:, :10] = np.frombuffer(dates, dtype=np.uint8).reshape(-1, 10)[days - first]
    text[:, 11:19], text[:, 20:23] = _CLOCK[seconds], _THREE_DIGITS[millis]
    return text
