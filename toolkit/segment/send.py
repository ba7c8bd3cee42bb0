"""Send Segment log files to Segment (or any endpoint speaking its API), each source as its own
library would: a client library's messages (analytics.js, the mobile SDKs) are posted as batches
to the HTTP API with their context intact, as those SDKs post them; a server library's through the
official client, segment-analytics-python (which replaces context.library with its own). Every
message keeps its messageId, anonymousId, userId, context and historical timestamp."""

from __future__ import annotations

import base64
import http.client
import logging
import socket
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from isal import igzip
from segment.analytics import Client

from toolkit.errors import UsageError
from toolkit.segment.layout import KEY_PATTERN
from toolkit.segment.timestamps import parse_iso
from toolkit.segment.tracking_api import CLIENT_LIBRARIES, iso

CONSUMER_THREADS = 4  # uploads per client in flight at once: one is too few to keep a fast endpoint busy
BATCH_MESSAGES = 100
SERVER_FIELDS = (
    "receivedAt",
    "projectId",
    "version",
    "writeKey",
    "sentAt",
    "timestamp",
)  # what Segment's servers add


@dataclass(frozen=True)
class SourceToSend:
    """A source as the sender needs it: its key (for the write key) and its library."""

    key: str
    library: str


@dataclass
class SendResult:
    sent: Counter = field(default_factory=Counter)  # by source key
    failed: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not sum(self.failed.values())


def _call(client: Client, message: dict) -> tuple[bool, dict]:
    """Hand one stored message to the client's method for its type."""
    common = {
        "context": message.get("context") or {},
        "timestamp": parse_iso(message["originalTimestamp"]) if message.get("originalTimestamp") else None,
        "anonymous_id": message.get("anonymousId"),
        "integrations": message.get("integrations") or {},
        "message_id": message.get("messageId"),
    }
    kind, user_id = message.get("type"), message.get("userId")
    if kind == "track":
        return client.track(
            user_id=user_id, event=message.get("event"), properties=message.get("properties") or {}, **common
        )
    if kind == "identify":
        return client.identify(user_id=user_id, traits=message.get("traits") or {}, **common)
    if kind == "page":
        return client.page(
            user_id=user_id,
            category=message.get("category"),
            name=message.get("name"),
            properties=message.get("properties") or {},
            **common,
        )
    if kind == "screen":
        return client.screen(
            user_id=user_id,
            category=message.get("category"),
            name=message.get("name"),
            properties=message.get("properties") or {},
            **common,
        )
    if kind == "group":
        return client.group(
            user_id=user_id, group_id=message.get("groupId"), traits=message.get("traits") or {}, **common
        )
    if kind == "alias":
        return client.alias(
            previous_id=message.get("previousId"),
            user_id=user_id,
            **{k: v for k, v in common.items() if k != "anonymous_id"},
        )
    raise ValueError(f"unknown message type {kind!r}")


def send_logs(
    root: Path,
    sources: dict[str, SourceToSend],
    write_keys: dict[str, str],
    host: str | None = None,
    max_retries: int = 10,
    sdk_shapes: bool = True,
) -> SendResult:
    """Send every message under root/segment-logs (sources by source id); with sdk_shapes, client
    libraries' sources go as HTTP batches (their context intact), the others through the official
    client; without, everything through the official client."""
    began = time.perf_counter()
    result = SendResult()
    lock = threading.Lock()
    clients: dict[str, Client] = {}
    posters: dict[str, BatchPoster] = {}

    def client_for(source_key: str) -> Client:
        if source_key not in clients:

            def on_error(error, items, source_key=source_key):
                with lock:
                    result.failed[source_key] += len(items)

            clients[source_key] = Client(
                write_keys[source_key],
                host=host,
                on_error=on_error,
                max_queue_size=20_000,
                upload_size=100,
                max_retries=max_retries,
                timeout=READ_SECONDS,
                thread=CONSUMER_THREADS,
            )
        return clients[source_key]

    logging.getLogger("segment").setLevel(logging.CRITICAL)  # its retry logs would repeat every failure
    enqueued: Counter = Counter()
    try:
        for path in sorted(root.glob("segment-logs/*/*/*.gz")):
            match = KEY_PATTERN.search(path.as_posix())
            source = sources.get(match.group(1)) if match else None
            if source is None:
                continue
            messages = [
                orjson.loads(line)
                for line in igzip.decompress(path.read_bytes()).splitlines()
                if line.strip()
            ]
            if sdk_shapes and source.library in CLIENT_LIBRARIES:
                poster = posters.setdefault(
                    source.key, BatchPoster(host or DEFAULT_HOST, write_keys[source.key], max_retries)
                )
                for start in range(0, len(messages), BATCH_MESSAGES):
                    batch = messages[start : start + BATCH_MESSAGES]
                    (result.sent if poster.post([as_sent(m) for m in batch]) else result.failed)[
                        source.key
                    ] += len(batch)
                continue
            client = client_for(source.key)
            for message in messages:
                while not _call(client, message)[0]:
                    time.sleep(0.01)  # the client's queue is full: wait rather than drop
                enqueued[source.key] += 1
    finally:
        for client in clients.values():
            client.flush()
            client.join()
        for poster in posters.values():
            poster.close()
    for source_key, count in enqueued.items():
        result.sent[source_key] = count - result.failed[source_key]
    result.seconds = time.perf_counter() - began
    return result


DEFAULT_HOST = "https://api.segment.io"
CONNECT_SECONDS = 5.0  # to open a connection to the endpoint
READ_SECONDS = 15.0  # for an answer once a batch is sent
RETRY_SECONDS = 60.0  # a batch is retried for at most this long, then counted as failed


def shown_url(url: str) -> str:
    """The URL as it may be printed: a user name or password in it replaced by ***."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def checked_host(host: str | None) -> str:
    """The endpoint to send to (default: Segment's API), checked before any work: an http:// or
    https:// URL with a host and, if it has one, a numeric port; then reached once, within
    CONNECT_SECONDS (a closed port or an unknown host is said at once, not retried for minutes)."""
    url = host or DEFAULT_HOST
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            "`host` must be an http:// or https:// URL such as https://events.eu1.segmentapis.com"
            f" or http://127.0.0.1:8088, not {shown_url(url)!r}",
            parameters=("host",),
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UsageError(
            f"`host` {shown_url(url)!r} has a port that is not a number from 0 to 65535",
            parameters=("host",),
        ) from None
    try:
        socket.create_connection((parts.hostname, port), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise UsageError(
            f"cannot reach `host` {shown_url(url)} ({why.lower()} within {CONNECT_SECONDS:g} s):"
            " is the address right and the endpoint running?",
            parameters=("host",),
        ) from None
    return url


def as_sent(message: dict) -> dict:
    """A stored message as its SDK sent it: the servers' fields removed, the client's own time as
    `timestamp` (Segment stores it as originalTimestamp)."""
    sent = {name: value for name, value in message.items() if name not in SERVER_FIELDS}
    if "originalTimestamp" in sent:
        sent["timestamp"] = sent.pop("originalTimestamp")
    return sent


class BatchPoster:
    """Posts batches to <host>/v1/batch as the SDKs do (gzip, Basic auth) over one keep-alive
    connection; retries 429, 5xx and network errors with backoff, gives up on other answers."""

    def __init__(self, host: str, write_key: str, max_retries: int):
        parts = urllib.parse.urlsplit(host)
        self.https, self.netloc = parts.scheme == "https", parts.netloc.rpartition("@")[2]
        self.authorization = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
        self.max_retries = max_retries
        self.connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.connection is None:
            kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            self.connection = kind(self.netloc, timeout=READ_SECONDS)
        return self.connection

    def post(self, batch: list[dict]) -> bool:
        body = igzip.compress(
            orjson.dumps({"batch": batch, "sentAt": iso(int(time.time() * 1000))}), compresslevel=1
        )
        headers = {
            "Authorization": self.authorization,
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        began = time.monotonic()
        for attempt in range(self.max_retries + 1):
            if attempt and time.monotonic() - began > RETRY_SECONDS:
                break
            try:
                connection = self._connect()
                connection.request("POST", "/v1/batch", body, headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                self.close()
                time.sleep(min(0.1 * 2**attempt, 5.0))
                continue
            if response.status == 200:
                return True
            if response.status != 429 and response.status < 500:
                return False
            time.sleep(min(float(response.getheader("Retry-After") or 0.1 * 2**attempt), 5.0))
        return False

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
