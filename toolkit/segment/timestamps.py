"""Segment's timestamps: ISO-8601 UTC, stored with milliseconds, e.g. 2019-05-02T03:19:05.398Z."""

from __future__ import annotations

from datetime import UTC, date, datetime

DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)


def day_epoch_ms(day: date) -> int:
    """UTC midnight of `day` as epoch milliseconds: the name of a Segment S3 day folder."""
    return (day.toordinal() - _EPOCH.toordinal()) * DAY_MS


def parse_iso(text: str) -> datetime:
    """Parse any ISO-8601 timestamp; naive ones are taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
