"""A local stand-in for Segment's tracking API that keeps every message it acknowledges.

It speaks every SDK's protocol (toolkit.segment.tracking_api), answers as Segment does, appends
each accepted message to a journal before its 200 (toolkit.segment.journal), and publishes the
journal as Segment's S3 layout through a sink (a folder or S3) by size, by age and on shutdown. A
sink that fails is retried and never loses journalled data; while nothing can be journalled the
collector answers 503, which clients retry. The server is aiohttp: asyncio, keep-alive, chunked
bodies and timeouts handled by a well-kept stack, in one dependency that is both server and client.
The write key is never stored or logged.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from isal import igzip

from toolkit.segment.journal import Journal, segment_files
from toolkit.segment.layout import object_key
from toolkit.segment.sinks import Sink
from toolkit.segment.tracking_api import (
    MAX_BATCH_BYTES,
    BadRequest,
    Request,
    drop_reason,
    epoch_ms,
    error_body,
    messages_of,
    parse_body,
    settings_document,
    size_reason,
    stored_line,
    write_key_of,
)

log = logging.getLogger("toolkit.collector")
BODY_DEADLINE = 10.0  # seconds a client may take to send its whole body; slower ones get 408
SHUTDOWN_GRACE = 2.0  # seconds requests in flight get once a stop is asked for
MAX_BUFFERED_BYTES = 128 << 20  # request bodies held at once, all together; past it, 503
RETRY_SECONDS = 2.0  # after a sink failed


@dataclass(frozen=True)
class CollectorSource:
    name: str
    id: str


class Collector:
    """Accepts messages for known write keys, journals them, and publishes them through a sink."""

    def __init__(
        self,
        sources_by_key: dict[str, CollectorSource],
        sink: Sink,
        journal: Journal,
        flush_bytes: int = 8 << 20,
        flush_seconds: float = 60.0,
        strict_keys: bool = False,
    ):
        self.sources_by_key = sources_by_key
        self.sink, self.journal = sink, journal
        self.flush_bytes, self.flush_seconds = flush_bytes, flush_seconds
        self.strict_keys = strict_keys
        self.counts: Counter = Counter()  # accepted, stored, files, and "dropped: <reason>"
        self.pending_bytes = 0
        self.pending_since: float | None = None  # when the oldest unpublished message came (monotonic)
        self.lock = threading.Lock()  # journal appends and rotation
        self.publishing = threading.Lock()  # one publisher at a time
        self.retry_after = 0.0

    def accept(self, request: Request, body: bytes) -> None:
        """Validate one request and journal its accepted messages; raises BadRequest for what
        Segment refuses whole (and 503 when the journal cannot be written)."""
        payload = parse_body(body)
        key = write_key_of(request.authorization, payload)
        if key is None:
            raise BadRequest(400, "no write key (Basic auth, Bearer, or writeKey in the body)")
        messages, refused = messages_of(request.route, payload)
        source = self.sources_by_key.get(key)
        if source is None:
            if self.strict_keys:
                raise BadRequest(401, "unknown write key")
            refused = "unknown write key"
        if refused or source is None:
            self._count(Counter({f"dropped: {refused}": len(messages)}))
            log.info("dropped %d messages: %s", len(messages), refused)
            return
        batch_sent = epoch_ms(payload.get("sentAt"), request.received_ms)
        lines: list[bytes] = []
        tally: Counter = Counter()
        for message in messages:
            reason = drop_reason(message)
            if reason is None:
                try:
                    line = stored_line(message, source.id, request, batch_sent)
                    reason = size_reason(line)
                except ValueError:
                    reason = "nested too deeply"
            if reason:
                tally[f"dropped: {reason}"] += 1
            else:
                lines.append(line)
        data = b"".join(lines)
        with self.lock:
            if data:
                try:
                    self.journal.append(data)
                except OSError as exc:
                    log.error("cannot journal (%s): answering 503 until it can", exc.strerror or exc)
                    raise BadRequest(503, "the collector cannot store messages right now; retry") from None
                self.pending_bytes += len(data)
                self.pending_since = self.pending_since or time.monotonic()
            tally["accepted"] += len(lines)
            self.counts.update(tally)

    def _count(self, tally: Counter) -> None:
        with self.lock:
            self.counts.update(tally)

    def due(self) -> bool:
        with self.lock:
            old = (
                self.pending_since is not None and time.monotonic() - self.pending_since >= self.flush_seconds
            )
            return (self.pending_bytes >= self.flush_bytes or old) and time.monotonic() >= self.retry_after

    def publish(self) -> bool:
        """Write every closed journal segment (and the open one, closed now) as log files; a
        segment is removed once its files are written. False if the sink failed: what it held
        stays in the journal and is published by a later call, or by the next start."""
        with self.publishing:
            with self.lock:
                segments = self.journal.rotate()
                self.pending_bytes, self.pending_since = 0, None
            for segment in segments:
                try:
                    stored = files = 0
                    for source_id, day, name, content in segment_files(segment):
                        self.sink.write(
                            object_key(source_id, day, name), igzip.compress(content, compresslevel=1)
                        )
                        stored += content.count(b"\n")
                        files += 1
                    segment.unlink()
                except Exception as exc:  # noqa: BLE001 - a disk or a network that fails must not stop the server
                    log.error(
                        "cannot publish %s yet (%s); it stays in the journal and is retried",
                        segment.name,
                        " ".join(str(exc).split())[:200],
                    )
                    with self.lock:
                        self.pending_since = self.pending_since or time.monotonic() - self.flush_seconds
                    self.retry_after = time.monotonic() + RETRY_SECONDS
                    return False
                self._count(Counter(stored=stored, files=files))
            return True

    def close(self) -> None:
        """Close the journal, counting the acknowledged messages it still holds (what could not
        be published: the next collector started on this journal publishes them)."""
        self.journal.close()
        held = self.journal.held_messages()
        with self.lock:
            self.counts["unpublished"] = held

    def summary(self) -> dict:
        with self.lock:
            counts = dict(self.counts)
        dropped = {
            key.removeprefix("dropped: "): value
            for key, value in counts.items()
            if key.startswith("dropped: ")
        }
        return {
            "accepted": counts.get("accepted", 0),
            "stored": counts.get("stored", 0),
            "files": counts.get("files", 0),
            "unpublished": counts.get("unpublished", 0),
            "dropped": dropped,
        }


# --- the HTTP server ------------------------------------------------------------------------------

CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    "Access-Control-Max-Age": "86400",
}


@web.middleware
async def _segment_answers(request: web.Request, handler):
    """CORS on every route, preflight included, as Segment allows (browsers post from any page);
    and Segment's error body on every error aiohttp answers itself (no route, wrong method)."""
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
    else:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = web.json_response(error_body(exc.status, exc.reason), status=exc.status)
    origin = request.headers.get("Origin")
    response.headers.update(CORS_HEADERS)
    response.headers["Access-Control-Allow-Origin"] = origin or "*"
    if origin:
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    return response


class BodyBudget:
    """The bytes of request bodies held at once, all requests together. Memory is bounded by
    bytes rather than by a count of requests, so clients trickling a byte at a time hold next to
    nothing and cannot crowd the others out; past the budget a request is answered 503 (retried)."""

    def __init__(self, limit: int):
        self.limit, self.held = limit, 0  # one event loop: no lock

    def take(self, size: int) -> None:
        if self.held + size > self.limit:
            raise BadRequest(503, "the collector is busy; retry")
        self.held += size

    def give(self, size: int) -> None:
        self.held -= size


async def _read_body(request: web.Request, budget: BodyBudget, taken: list[int]) -> bytes:
    """The body, whole within BODY_DEADLINE (408 past it, however it trickles), capped before and
    while it is read (Content-Length or chunked) and while it is inflated (Content-Encoding:
    gzip): a gzip bomb stops at MAX_BATCH_BYTES of output. What it holds is taken from the
    budget (and added to `taken`, for the caller to give back)."""
    if request.content_length is not None and request.content_length > MAX_BATCH_BYTES:
        raise BadRequest(400, f"request over the {MAX_BATCH_BYTES // 1024} KB limit")
    pieces, size = [], 0
    try:
        async with asyncio.timeout(BODY_DEADLINE):
            while piece := await request.content.readany():
                size += len(piece)
                if size > MAX_BATCH_BYTES:
                    raise BadRequest(400, f"request over the {MAX_BATCH_BYTES // 1024} KB limit")
                budget.take(len(piece))
                taken.append(len(piece))
                pieces.append(piece)
    except TimeoutError:
        raise BadRequest(408, f"the body took over {BODY_DEADLINE:g} s to arrive") from None
    body = b"".join(pieces)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(31)
        try:
            body = inflater.decompress(body, MAX_BATCH_BYTES + 1)
        except zlib.error:
            raise BadRequest(400, "body is not valid gzip") from None
        if len(body) > MAX_BATCH_BYTES or inflater.unconsumed_tail:
            raise BadRequest(400, f"request over the {MAX_BATCH_BYTES // 1024} KB limit once inflated")
        budget.take(len(body))
        taken.append(len(body))
    return body


def build_app(collector: Collector) -> web.Application:
    budget = BodyBudget(MAX_BUFFERED_BYTES)

    async def post(request: web.Request) -> web.Response:
        taken: list[int] = []
        try:
            body = await _read_body(request, budget, taken)
            context = Request(
                request.match_info["route"],
                request.headers.get("Authorization"),
                request.remote or "",
                int(time.time() * 1000),
            )
            collector.accept(context, body)
        except BadRequest as exc:
            log.info("POST %s %d %s", request.path, exc.status, exc.reason)
            return web.json_response(error_body(exc.status, exc.reason), status=exc.status)
        finally:
            budget.give(sum(taken))
        return web.json_response({"success": True})

    async def settings(request: web.Request) -> web.Response:
        return web.json_response(settings_document(request.match_info["key"], f"{request.host}/v1"))

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", **collector.summary()})

    app = web.Application(middlewares=[_segment_answers], client_max_size=MAX_BATCH_BYTES * 2)
    app.router.add_post("/v1/{route}", post)
    app.router.add_get("/v1/projects/{key}/settings", settings)
    app.router.add_get("/health", health)
    return app  # OPTIONS, on any path, is answered by _segment_answers


class PrivateServerLog(logging.LoggerAdapter):
    """aiohttp's server log, made unable to print what a request carried. Its errors quote the
    request line and headers (a write key in Authorization) and come with tracebacks; through
    this they are one line naming the client and the kind of error, and at most where in the
    code it was raised (file and line: code, never values)."""

    def log(self, level, msg, *args, exc_info=None, **kwargs) -> None:  # noqa: ANN001 - Logger's signature
        if level < logging.WARNING or not self.isEnabledFor(level):
            return
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        text = str(msg) % args if args else str(msg)
        if error is not None:
            text += f": {type(error).__name__}"
            frames = traceback.extract_tb(error.__traceback__)
            if frames and not isinstance(error, HttpProcessingError):
                text += f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}"
        self.logger.log(level, "%s", text)


class CollectorServer:
    """Runs the collector's server on an event loop of its own: start() in a background thread
    (tests, benchmarks) or run() in the calling one (the CLI); stop() from anywhere."""

    def __init__(
        self, collector: Collector, host: str = "127.0.0.1", port: int = 0, reuse_port: bool = False
    ):
        self.collector = collector
        self.host, self.port = host, port
        self.reuse_port = reuse_port  # several processes serve the port
        self.loop = asyncio.new_event_loop()
        self.stopping: asyncio.Event | None = None
        self.ready = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> CollectorServer:
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        self.ready.wait(30)
        if self.error:
            raise self.error
        return self

    def run(self, on_ready=None) -> None:
        try:
            self.loop.run_until_complete(self._serve(on_ready))
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            if self.thread is None:
                raise
        finally:
            self.loop.close()

    def stop(self) -> None:
        """Stop serving and publish everything; returns once done (a second call does nothing)."""
        if self.stopping is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stopping.set)
        if self.thread is not None:
            self.thread.join(60)

    async def _serve(self, on_ready) -> None:
        self.stopping = asyncio.Event()
        runner = web.AppRunner(
            build_app(self.collector),
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE,
            handler_cancellation=True,
            keepalive_timeout=5,
            logger=PrivateServerLog(logging.getLogger("toolkit.collector.http"), {}),
            auto_decompress=False,
        )  # we inflate, with a cap
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=512, reuse_port=self.reuse_port or None)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self.port = runner.addresses[0][1]
        await asyncio.to_thread(self.collector.publish)  # what a killed run left in the journal
        self.ready.set()
        if on_ready:
            on_ready(self)
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), 1.0)
            except TimeoutError:
                if self.collector.due():
                    await asyncio.to_thread(self.collector.publish)
        await runner.cleanup()  # no new connections; requests in flight get SHUTDOWN_GRACE seconds
        for _ in range(5):  # then publish everything; what cannot be stays in the journal for the next start
            if await asyncio.to_thread(self.collector.publish):
                break
            await asyncio.sleep(RETRY_SECONDS)
        self.collector.close()


def journal_folder(out: str) -> Path:
    """Where the journal of a collector writing to `out` lives: beside the logs for a folder."""
    return Path(".collector-journal") if out.startswith("s3://") else Path(out) / ".collector-journal"
