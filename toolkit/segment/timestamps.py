"""Segment's timestamps: ISO-8601 UTC with milliseconds, e.g. 2019-05-02T03:19:05.398Z."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

DAY_MS = 86_400_000
MINUTE_MS = 60_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# "SS.mmmZ" for every millisecond of a minute, and "YYYY-MM-DDTHH:MM:" per minute seen:
# formatting is then two look-ups, as it runs four times for every simulated message.
_SECONDS_PART = [f"{ms // 1000:02d}.{ms % 1000:03d}Z" for ms in range(MINUTE_MS)]
_minute_part: dict[int, str] = {}


def iso_ms(epoch_ms: int) -> str:
    """Format epoch milliseconds as Segment stores timestamps."""
    minute, rest = divmod(epoch_ms, MINUTE_MS)
    prefix = _minute_part.get(minute)
    if prefix is None:
        if len(_minute_part) > 1_000_000:
            _minute_part.clear()
        prefix = _minute_part[minute] = (_EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:")
    return prefix + _SECONDS_PART[rest]


def day_epoch_ms(day: date) -> int:
    """UTC midnight of `day` as epoch milliseconds: the name of a Segment S3 day folder."""
    return (day.toordinal() - _EPOCH.date().toordinal()) * DAY_MS


def parse_iso(text: str) -> datetime:
    """Parse any ISO-8601 timestamp; naive ones are taken as UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
