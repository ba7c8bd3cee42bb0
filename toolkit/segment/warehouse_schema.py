"""Segment's warehouse schema (Redshift, Postgres): which rows one stored message becomes. Pure.

One schema per source; a `track` is a row of `tracks` (the standard columns only) and of its
event's own table (the same plus a column per property); `identify` a row of `identifies` (a
column per trait) and an upsert of `users` (keyed on the user id, no anonymous_id); `page`,
`screen`, `group` and `alias` a row of `pages`, `screens`, `groups`, `aliases`. Standard columns:
id (the messageId), received_at, sent_at, original_timestamp, timestamp (UTC, without time zone),
anonymous_id, user_id, context_* (nested objects flattened with `_`), and uuid_ts (set by the
loader, when the row is loaded). Property and trait names are go-snakecase (`snakecase.py`);
nested objects are flattened, arrays kept as JSON text; a column's type comes from the first
non-null value (`column_type`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from toolkit.segment.snakecase import warehouse_name

MAX_TEXT = 512  # Segment's varchar(512): longer strings are cut


class Timestamp(str):
    """An ISO-8601 text, already UTC (`...Z`): a `timestamp` column."""


class JsonText(str):
    """An array as JSON text (e.g. products[]): a text column, never cut (cut JSON is unreadable)."""


Value = str | int | float | bool | Timestamp | JsonText

# Logical column types -> the DDL of each engine (Postgres and Redshift alike; DuckDB's own names)
BIGINT, DOUBLE, BOOLEAN, TIMESTAMP, TEXT, JSON_TEXT = (
    "bigint",
    "double",
    "boolean",
    "timestamp",
    "text",
    "json",
)
POSTGRES_TYPES = {
    BIGINT: "bigint",
    DOUBLE: "double precision",
    BOOLEAN: "boolean",
    TIMESTAMP: "timestamp",
    TEXT: f"varchar({MAX_TEXT})",
    JSON_TEXT: "varchar(65535)",
}

STANDARD = ("id", "received_at", "sent_at", "original_timestamp", "timestamp", "anonymous_id", "user_id")
TIMESTAMPS = {"receivedAt": "received_at", "sentAt": "sent_at", "originalTimestamp": "original_timestamp"}
TABLES = {
    "track": "tracks",
    "identify": "identifies",
    "page": "pages",
    "screen": "screens",
    "group": "groups",
    "alias": "aliases",
}
USERS = "users"
# The fields a call type adds to the standard columns (the call's own, not the user's properties)
TYPE_FIELDS = {
    "track": {"event": "event", "event_text": "event"},
    "page": {"name": "name", "category": "category"},
    "screen": {"name": "name", "category": "category"},
    "group": {"group_id": "groupId"},
    "alias": {"previous_id": "previousId"},
    "identify": {},
}
# A property or trait named like a column of its call gets `_` in front (Segment: "_-prefixed")
LOADER_COLUMNS = ("uuid", "uuid_ts", "loaded_at")
RESERVED = {kind: frozenset({*STANDARD, *LOADER_COLUMNS, *fields}) for kind, fields in TYPE_FIELDS.items()}
RESERVED_TABLES = frozenset({*TABLES.values(), USERS})
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?")


@dataclass
class Row:
    table: str
    values: dict[str, Value]


def column_type(value: Value) -> str:
    """The logical type a column gets when `value` is its first non-null value."""
    kind = type(value)
    if kind is bool:
        return BOOLEAN
    if kind is int:
        return BIGINT if -(2**63) <= value < 2**63 else DOUBLE  # type: ignore[operator]
    if kind is float:
        return DOUBLE
    if kind is Timestamp:
        return TIMESTAMP
    if kind is JsonText:
        return JSON_TEXT
    return TEXT


def source_schema(slug: str) -> str:
    """The schema of a source: its slug, lower case (a leading digit gets `_`)."""
    return warehouse_name(slug)


def event_table(event: str) -> str:
    """The table of an event (`Order Completed` -> order_completed); empty if the name has no
    letter or digit. A name that is one of Segment's tables gets `_` in front."""
    name = warehouse_name(event)
    return "_" + name if name in RESERVED_TABLES else name


def utc_text(text: str) -> Timestamp | None:
    """An ISO-8601 text as UTC `...Z` (offsets converted, as Postgres would silently drop them);
    None if it is not one."""
    if len(text) < 10 or text[4] != "-" or not _ISO.fullmatch(text):
        return None
    if text.endswith("Z") and len(text) > 10:
        return Timestamp(text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return Timestamp(parsed.isoformat(timespec="milliseconds") + "Z")


def _scalar(value: object) -> Value | None:
    """A JSON value as a column value: strings cut at MAX_TEXT (ISO-8601 ones as timestamps),
    arrays as JSON text; objects are flattened by the caller."""
    if isinstance(value, str):
        return utc_text(value) or (value if len(value) <= MAX_TEXT else value[:MAX_TEXT])
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list):
        return JsonText(orjson.dumps(value).decode())
    return None


def flatten(prefix: str, fields: dict, out: dict[str, Value], reserved: frozenset[str] = frozenset()) -> None:
    """Add the leaves of `fields` to `out`, named prefix_key_subkey (go-snakecase each part); a
    top-level name in `reserved` gets `_` in front. Nulls and keys with no letter or digit add nothing."""
    for key, value in fields.items():
        part = warehouse_name(key, reserved) if not prefix else warehouse_name(key)
        if not part or value is None:
            continue
        name = f"{prefix}_{part}" if prefix else part
        if isinstance(value, dict):
            flatten(name, value, out)
        else:
            scalar = _scalar(value)
            if scalar is not None:
                out[name] = scalar


def _identity(value: object) -> str | None:
    """A userId or anonymousId as text; one that is no string or number is no id."""
    if isinstance(value, str):
        return value[:MAX_TEXT] if value else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return orjson.dumps(value).decode()
    return None


def standard_columns(message: dict) -> dict[str, Value]:
    """The columns every table of a call has (uuid_ts aside, the loader's)."""
    row: dict[str, Value] = {}
    message_id = message.get("messageId")
    if isinstance(message_id, str) and message_id:
        row["id"] = message_id[:MAX_TEXT]
    for field, column in (*TIMESTAMPS.items(), ("timestamp", "timestamp")):
        value = message.get(field)
        stamp = utc_text(value) if isinstance(value, str) else None
        if stamp is not None:
            row[column] = stamp
    for field, column in (("anonymousId", "anonymous_id"), ("userId", "user_id")):
        identity = _identity(message.get(field))
        if identity is not None:
            row[column] = identity
    context = message.get("context")
    if isinstance(context, dict):
        flatten("context", context, row)
    return row


def message_rows(message: dict) -> list[Row]:
    """The rows one stored message becomes (empty for a type the warehouse does not store)."""
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in TABLES:
        return []
    table = TABLES[kind]
    row = standard_columns(message)
    for column, field in TYPE_FIELDS[kind].items():
        value = message.get(field)
        if isinstance(value, str) and value:
            row[column] = event_table(value) if column == "event" else value[:MAX_TEXT]
    if kind == "track":
        rows = [Row(table, row)]
        name = event_table(str(row["event_text"])) if "event_text" in row else ""
        properties = message.get("properties")
        if name:
            own = dict(row)
            if isinstance(properties, dict):
                flatten("", properties, own, RESERVED[kind])
            rows.append(Row(name, own))
        return rows
    payload = message.get("properties" if kind in ("page", "screen") else "traits")
    if isinstance(payload, dict) and kind != "alias":
        flatten("", payload, row, RESERVED[kind])
    rows = [Row(table, row)]
    if kind == "identify" and "user_id" in row:
        rows.append(Row(USERS, user_columns(row)))
    return rows


def user_columns(identify: dict[str, Value]) -> dict[str, Value]:
    """An identify's upsert of `users`: id = the user id, its received_at and traits (no
    anonymous_id, no context, no call timestamps)."""
    skip = {"id", "anonymous_id", "user_id", "sent_at", "original_timestamp", "timestamp"}
    user = {"id": identify["user_id"]}
    user.update((k, v) for k, v in identify.items() if k not in skip and not k.startswith("context_"))
    return user
