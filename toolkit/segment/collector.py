"""A local stand-in for Segment's tracking API that writes what Segment's S3 destination would.

POST /v1/batch, /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias with the
write key by HTTP Basic auth or in the body; GET /health. Accepted messages get what Segment's
servers add (receivedAt, messageId if missing, projectId, version, channel, context.ip and the
skew-corrected timestamp) and are buffered per (source, received day), then written as
segment-logs/<source id>/<day>/<file>.gz when a buffer is large or old enough, and on shutdown.
The write key is never stored or logged.
"""

from __future__ import annotations

import base64
import gzip
import logging
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
from isal import igzip

from toolkit.segment.layout import log_file_name, object_key, received_day_ms
from toolkit.segment.sinks import Sink
from toolkit.segment.timestamps import parse_iso

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
CALLS = ("track", "identify", "page", "screen", "group", "alias")
log = logging.getLogger("toolkit.collector")


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class CollectorSource:
    name: str
    id: str


@dataclass
class _Buffer:
    data: bytearray = field(default_factory=bytearray)
    opened: float = field(default_factory=time.monotonic)
    messages: int = 0


_minute_prefixes: dict[int, str] = {}


def _iso(ms: int) -> str:
    """Segment's timestamp text for epoch ms (the minute's prefix is cached: this runs per message)."""
    minute, rest = divmod(ms, 60_000)
    prefix = _minute_prefixes.get(minute)
    if prefix is None:
        if len(_minute_prefixes) > 100_000:
            _minute_prefixes.clear()
        prefix = _minute_prefixes[minute] = datetime.fromtimestamp(minute * 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:")
    return f"{prefix}{rest // 1000:02d}.{rest % 1000:03d}Z"


def _epoch_ms(value, fallback: int) -> int:
    if not isinstance(value, str):
        return fallback
    try:
        return int(parse_iso(value).timestamp() * 1000)
    except ValueError:
        return fallback


class Collector:
    """Accepts messages for known write keys and writes them in Segment's S3 layout through a sink."""

    def __init__(self, sources_by_key: dict[str, CollectorSource], sink: Sink, flush_bytes: int = 8 * 1024 * 1024, flush_seconds: float = 60.0):
        self.sources_by_key = sources_by_key
        self.sink = sink
        self.flush_bytes, self.flush_seconds = flush_bytes, flush_seconds
        self.buffers: dict[tuple[str, int], _Buffer] = {}
        self.lock = threading.Lock()
        self.names = random.Random()
        self.accepted = 0
        self.files = 0

    def source_for(self, write_key: str | None) -> CollectorSource:
        source = self.sources_by_key.get(write_key or "")
        if source is None:
            raise Rejected(401, "unknown or missing write key")
        return source

    def accept(self, call: str, body: bytes, authorization: str | None, client_ip: str) -> tuple[CollectorSource, int]:
        """Validate, enrich and buffer one request's messages; returns the source and message count."""
        if len(body) > MAX_BATCH_BYTES:
            raise Rejected(400, f"request of {len(body):,} bytes is over the {MAX_BATCH_BYTES // 1024} KB batch limit")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise Rejected(400, "body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise Rejected(400, "body must be a JSON object")
        source = self.source_for(_basic_auth_key(authorization) or payload.get("writeKey"))
        if call == "batch":
            messages = payload.get("batch")
            if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
                raise Rejected(400, "batch must be a list of message objects")
        else:
            messages = [dict(payload, type=call)]
        received = int(time.time() * 1000)
        request = (received, _iso(received), _epoch_ms(payload.get("sentAt"), received))
        lines = [self._line(message, source, request, client_ip) for message in messages]
        with self.lock:
            for line in lines:
                buffer = self.buffers.setdefault((source.id, received_day_ms(received)), _Buffer())
                buffer.data += line
                buffer.messages += 1
            self.accepted += len(lines)
            self._flush_locked(force=False)
        return source, len(lines)

    def _line(self, message: dict, source: CollectorSource, request: tuple[int, str, int], client_ip: str) -> bytes:
        """The stored line of one message; `request` is (receivedAt ms, its text, the batch's sentAt ms)."""
        if len(orjson.dumps(message)) > MAX_MESSAGE_BYTES:
            raise Rejected(400, f"a message is over the {MAX_MESSAGE_BYTES // 1024} KB limit")
        if message.get("type") not in CALLS:
            raise Rejected(400, f"message type must be one of {', '.join(CALLS)}")
        message.pop("writeKey", None)
        received, received_text, batch_sent = request
        sent = _epoch_ms(message["sentAt"], received) if "sentAt" in message else batch_sent
        original = _epoch_ms(message.get("timestamp", message.get("originalTimestamp")), sent)
        context = message.get("context") if isinstance(message.get("context"), dict) else {}
        context.setdefault("ip", client_ip)
        message.update(
            context=context,
            messageId=message.get("messageId") or str(uuid.uuid4()),
            originalTimestamp=_iso(original),
            sentAt=_iso(sent),
            receivedAt=received_text,
            timestamp=_iso(received - (sent - original)),
            projectId=source.id,
            version=2,
            channel=message.get("channel") or "server",
        )
        return orjson.dumps(message, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)

    def flush(self, force: bool = True) -> None:
        with self.lock:
            self._flush_locked(force)

    def _flush_locked(self, force: bool) -> None:
        now = time.monotonic()
        for key in list(self.buffers):
            buffer = self.buffers[key]
            if force or len(buffer.data) >= self.flush_bytes or now - buffer.opened >= self.flush_seconds:
                source_id, day = key
                name = log_file_name(self.names, int(time.time() * 1000))
                self.sink.write(object_key(source_id, day, name), igzip.compress(bytes(buffer.data), compresslevel=1))
                self.files += 1
                del self.buffers[key]

    @property
    def buffered(self) -> int:
        with self.lock:
            return sum(b.messages for b in self.buffers.values())


def _basic_auth_key(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        return base64.b64decode(header[6:].strip()).decode("utf-8").split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        return None


class _Handler(BaseHTTPRequestHandler):
    collector: Collector
    stopping: threading.Event
    protocol_version = "HTTP/1.1"
    timeout = 2  # an idle keep-alive connection is closed after this, so shutdown can finish
    disable_nagle_algorithm = True  # else a reply's body waits for the client's delayed ACK: ~40 ms a request

    def log_message(self, *args) -> None:  # the default logs the request line; we log our own line
        pass

    def _reply(self, status: int, payload: dict) -> None:
        body = orjson.dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/health":
            self._reply(200, {"status": "ok", "accepted": self.collector.accepted, "buffered": self.collector.buffered, "files": self.collector.files})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        call = self.path.rstrip("/").rsplit("/", 1)[-1]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            if not self.path.startswith("/v1/") or call not in (*CALLS, "batch"):
                raise Rejected(404, f"no such endpoint: {self.path}")
            if self.headers.get("Content-Encoding", "").lower() == "gzip":
                try:
                    body = gzip.decompress(body)
                except (OSError, EOFError):
                    raise Rejected(400, "body is not valid gzip") from None
            source, count = self.collector.accept(call, body, self.headers.get("Authorization"), self.client_address[0])
        except Rejected as exc:
            log.info("POST %s %d %s", self.path, exc.status, exc.reason)
            self._reply(exc.status, {"success": False, "error": exc.reason})
            return
        log.info("POST %s 200 source=%s messages=%d bytes=%d", self.path, source.name, count, len(body))
        self.close_connection = self.stopping.is_set()
        self._reply(200, {"success": True})


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A client hanging up is routine: no traceback on the console; anything else is one line."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("connection from %s ended: %r", client_address[0], error)
        else:
            log.error("request from %s failed: %r", client_address[0], error)


def make_server(collector: Collector, stop: threading.Event, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for the collector (port 0: any free port; see server.server_address)."""
    handler = type("CollectorHandler", (_Handler,), {"collector": collector, "stopping": stop})
    server = _Server((host, port), handler)
    server.daemon_threads = False  # server_close() then waits for requests in flight
    return server


def serve(collector: Collector, server: ThreadingHTTPServer, stop: threading.Event) -> None:
    """Serve until `stop` is set, flushing old buffers every second. On stop: refuse new
    connections, let requests in flight finish, then write every buffer: nothing answered 200 is lost."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        while not stop.wait(1.0):
            collector.flush(force=False)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        collector.flush(force=True)
