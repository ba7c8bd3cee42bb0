"""Segment's timestamps: ISO-8601 UTC, stored with milliseconds, e.g. 2019-05-02T03:19:05.398Z."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)
_TWO_DIGITS = np.array([divmod(i, 10) for i in range(100)], dtype=np.uint8) + ord("0")
_THREE_DIGITS = np.array([(i // 100, i // 10 % 10, i % 10) for i in range(1000)], dtype=np.uint8) + ord("0")
_ISO_TEMPLATE = np.frombuffer(b"0000-00-00T00:00:00.000Z", dtype=np.uint8)


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
    minutes, second = np.divmod(seconds, 60)
    hour, minute = np.divmod(minutes, 60)
    text = np.empty((len(epoch_ms), 24), dtype=np.uint8)
    text[:] = _ISO_TEMPLATE
    if len(days):
        text[:, :10] = np.frombuffer(dates, dtype=np.uint8).reshape(-1, 10)[days - first]
    text[:, 11:13], text[:, 14:16], text[:, 17:19], text[:, 20:23] = _TWO_DIGITS[hour], _TWO_DIGITS[minute], _TWO_DIGITS[second], _THREE_DIGITS[millis]
    return text
