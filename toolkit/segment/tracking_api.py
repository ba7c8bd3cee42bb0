"""Segment's tracking API as the real clients speak it and as Segment answers (FACTS section 2b).

Pure functions, no I/O: which route is which call, where the write key is, which messages Segment
accepts (and why it drops the others), and what its servers add to each accepted message.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from toolkit.segment.timestamps import parse_iso

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_MESSAGES = 2_500
MAX_MESSAGE_ID = 100
SERVER_FIELDS_BYTES = (
    400  # what the servers add to a message (receivedAt, timestamp, projectId, ...), at most
)
CALLS = ("track", "identify", "page", "screen", "group", "alias")
# Every route a Segment SDK posts to: analytics.js uses the first letter (/v1/t) and /v1/b when
# batching; analytics-android 4.x /v1/import; analytics-kotlin and -swift /v1/b.
ROUTES = {
    **{call: call for call in CALLS},
    **{call[0]: call for call in CALLS},
    "batch": "batch",
    "b": "batch",
    "import": "batch",
}
# Libraries that run on the user's device: Segment fills context.ip from their request; server
# libraries' messages get none unless the sender set one.
CLIENT_LIBRARIES = frozenset(
    {
        "analytics.js",
        "analytics-android",
        "analytics-ios",
        "analytics-kotlin",
        "analytics-swift",
        "analytics-react-native",
        "analytics-flutter",
    }
)


# The `code` of Segment's error body by status: analytics-python reads `code` and `message` from
# every error answer, and without them it takes a 4xx for a network failure and retries it.
ERROR_CODES = {
    400: "invalid_request",
    401: "invalid_write_key",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "request_too_large",
    429: "rate_limited",
    503: "unavailable",
}


class BadRequest(Exception):
    """A request Segment answers with an error status (the whole request is refused)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def error_body(status: int, message: str) -> dict:
    """Segment's answer to a refused request: success false, a code and a message."""
    return {"success": False, "code": ERROR_CODES.get(status, "error"), "message": message}


@dataclass(frozen=True)
class Request:
    """What the server knows of a request besides its body."""

    route: str  # the last part of the path: batch, b, import, t, track, ...
    authorization: str | None
    client_ip: str
    received_ms: int


def write_key_of(authorization: str | None, payload: dict) -> str | None:
    """The write key: HTTP Basic (key as the user, empty password), Bearer, or writeKey in the body."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value.strip(), validate=True).decode("utf-8").split(":", 1)[0] or None
            except (ValueError, UnicodeDecodeError):
                return None
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = payload.get("writeKey")
    return key if isinstance(key, str) and key else None


def parse_body(body: bytes) -> dict:
    if len(body) > MAX_BATCH_BYTES:
        raise BadRequest(400, f"request over the {MAX_BATCH_BYTES // 1024} KB limit")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest(400, "body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest(400, "body must be a JSON object")
    return payload


def messages_of(route: str, payload: dict) -> tuple[list, str | None]:
    """The messages a request carries, with batch-level context and integrations merged into each;
    and, when Segment rejects the whole batch while still answering 200, why."""
    call = ROUTES.get(route)
    if call is None:
        raise BadRequest(404, f"no such endpoint: /v1/{route}")
    if call != "batch":
        return [dict(payload, type=call)], None
    batch = payload.get("batch")
    if not isinstance(batch, list):
        raise BadRequest(400, "batch must be a list of messages")
    if len(batch) > MAX_BATCH_MESSAGES:
        return batch, f"batch over {MAX_BATCH_MESSAGES:,} messages"
    shared = {
        name: payload[name] for name in ("context", "integrations") if isinstance(payload.get(name), dict)
    }
    if shared:
        batch = [_merged(message, shared) if isinstance(message, dict) else message for message in batch]
    return batch, None


def _merged(message: dict, shared: dict) -> dict:
    merged = dict(message)
    for name, values in shared.items():
        own = message.get(name)
        merged[name] = {**values, **own} if isinstance(own, dict) else values
    return merged


def drop_reason(message) -> str | None:
    """Why Segment would not accept this message, or None."""
    if not isinstance(message, dict):
        return "not a message object"
    if message.get("type") not in CALLS:
        return "unknown type"
    if not message.get("userId") and not message.get("anonymousId"):
        return "no userId or anonymousId"
    if message["type"] == "track" and not (isinstance(message.get("event"), str) and message["event"]):
        return "track without event"
    message_id = message.get("messageId")
    if message_id is not None and (not isinstance(message_id, str) or len(message_id) > MAX_MESSAGE_ID):
        return f"messageId over {MAX_MESSAGE_ID} characters"
    return None


def size_reason(line: bytes) -> str | None:
    """Why a stored line is too big: over 32 KB as sent (the servers' fields are allowed for)."""
    return (
        f"over {MAX_MESSAGE_BYTES // 1024} KB"
        if len(line) > MAX_MESSAGE_BYTES + SERVER_FIELDS_BYTES
        else None
    )


def encoded(message: dict) -> bytes:
    """A message as one JSON line, keys sorted; orjson, or the standard library past orjson's
    nesting limit (255). ValueError if it is nested too deeply for either."""
    try:
        return orjson.dumps(message, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        try:
            return (
                json.dumps(
                    message, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
                ).encode()
                + b"\n"
            )
        except RecursionError:
            raise ValueError("nested too deeply") from None


def stored_line(message: dict, source_id: str, request: Request, batch_sent_ms: int) -> bytes:
    """The line Segment's S3 destination stores for an accepted message: what its servers add
    (receivedAt, the skew-corrected timestamp, projectId, version, messageId if missing, context.ip
    for client libraries), keys sorted, the write key removed. The message (freshly parsed) is
    changed in place: this runs for every message, and copies cost."""
    message.pop("writeKey", None)
    received = request.received_ms
    sent = epoch_ms(message["sentAt"], received) if "sentAt" in message else batch_sent_ms
    original = epoch_ms(message.get("timestamp", message.get("originalTimestamp")), sent)
    context = message.get("context")
    if not isinstance(context, dict):
        context = message["context"] = {}
    library = context.get("library")
    name = library.get("name") if isinstance(library, dict) else None
    if name in CLIENT_LIBRARIES and "ip" not in context:
        context["ip"] = request.client_ip
    if not message.get("messageId"):
        message["messageId"] = str(uuid.uuid4())
    message["originalTimestamp"] = iso(original)
    message["sentAt"] = iso(sent)
    message["receivedAt"] = iso(received)
    message["timestamp"] = iso(_in_range(received - (sent - original), original))
    message["projectId"] = source_id
    message["version"] = 2
    if not message.get("channel"):
        message["channel"] = "client" if name == "analytics.js" else "server"
    return encoded(message)


def settings_document(write_key: str, api_host: str) -> dict:
    """What analytics.js loads from <cdnURL>/v1/projects/<writeKey>/settings: here, post to api_host."""
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": api_host,
                "protocol": "http",
                "unbundledIntegrations": [],
                "addBundledMetadata": True,
            }
        },
        "plan": {
            "track": {"__default": {"enabled": True, "integrations": {}}},
            "identify": {"__default": {"enabled": True}},
            "group": {"__default": {"enabled": True}},
        },
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }


_SECONDS: dict[int, str] = {}
_MINUTE_MS: dict[str, int] = {}


def iso(ms: int) -> str:
    """Segment's timestamp text for epoch ms (the second's text is cached: this runs per message)."""
    second, rest = divmod(ms, 1000)
    prefix = _SECONDS.get(second)
    if prefix is None:
        if len(_SECONDS) > 200_000:
            _SECONDS.clear()
        prefix = _SECONDS[second] = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{prefix}{rest:03d}Z"


def _fast_epoch_ms(text: str) -> int | None:
    """Epoch ms of the form clients mostly send, 2026-11-01T09:00:04.123Z, without datetime."""
    if len(text) != 24 or text[23] != "Z" or text[19] != "." or not (text[17:19] + text[20:23]).isdigit():
        return None
    minute = _MINUTE_MS.get(text[:16])
    if minute is None:
        if len(_MINUTE_MS) > 200_000:
            _MINUTE_MS.clear()
        minute = _MINUTE_MS[text[:16]] = int(parse_iso(text[:16] + ":00Z").timestamp()) * 1000
    return minute + int(text[17:19]) * 1000 + int(text[20:23])


_FIRST_MS, _LAST_MS = -62_135_596_800_000, 253_402_300_799_999  # years 1 to 9999


def _in_range(ms: int, fallback: int) -> int:
    return ms if _FIRST_MS <= ms <= _LAST_MS else fallback


def epoch_ms(value, fallback: int) -> int:
    """A client's timestamp as epoch ms; anything unreadable or outside years 1-9999 is `fallback`."""
    if not isinstance(value, str):
        return fallback
    try:
        result = _fast_epoch_ms(value)
        if result is None:
            result = int(parse_iso(value).timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        return fallback
    return _in_range(result, fallback)
