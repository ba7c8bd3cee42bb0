"""A local stand-in for Segment's tracking API that keeps every message it acknowledges.

It speaks every SDK's protocol (toolkit.segment.tracking_api), answers as Segment does, appends
each accepted message to a journal per destination before its 200 (toolkit.segment.journal),
and publishes each journal to its destination (Segment's S3 layout in a folder or S3, a stream, a
warehouse...) by size, by age and on shutdown: a local Segment with any number of destinations.
A destination that fails is retried and never loses journalled data, nor holds up another; while
nothing can be journalled the collector answers 503, which clients retry. The server is aiohttp:
asyncio, keep-alive, chunked bodies and timeouts handled by a well-kept stack, in one dependency
that is both server and client.
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from isal import igzip

from toolkit.segment.destination import DeliveryCounts, Destination, FileLayout
from toolkit.segment.journal import (
    Journal,
    JournalLock,
    SegmentRecords,
    journal_folder,
    read_segment,
    segment_files,
)
from toolkit.segment.layout import object_key
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


DELIVER_LINES = 5_000  # messages handed to a message destination at a time


class Outlet:
    """One destination of the collector, with its journal: published on its own schedule, so a
    destination that fails keeps its own messages and holds up no other."""

    def __init__(self, destination: Destination, journal: Journal, flush_bytes: int, flush_seconds: float):
        self.destination, self.journal = destination, journal
        self.flush_bytes, self.flush_seconds = flush_bytes, flush_seconds
        self.counts: Counter[str] = Counter()  # stored, files, and "skipped: <why>"
        self.pending_bytes = 0
        self.pending_since: float | None = None
        self.retry_after = 0.0
        self.publishing = threading.Lock()  # one publisher at a time
        self.delivery: DeliveryCounts | None = None  # what the destination said at close

    def appended(self, size: int) -> None:
        self.pending_bytes += size
        self.pending_since = self.pending_since or time.monotonic()

    def due(self) -> bool:
        now = time.monotonic()
        old = self.pending_since is not None and now - self.pending_since >= self.flush_seconds
        return (self.pending_bytes >= self.flush_bytes or old) and now >= self.retry_after

    def publish(self, lock: threading.Lock) -> bool:
        """Hand every closed journal segment (and the open one, closed now) to the destination; a
        segment is removed once the destination has it. False if the destination failed: what
        the segment held stays in the journal for a later call, or the next start."""
        with self.publishing:
            with lock:
                segments = self.journal.rotate()
                self.pending_bytes, self.pending_since = 0, None
            for segment in segments:
                try:
                    records = read_segment(segment)
                    self._hand_over(segment, records)
                    segment.unlink()
                except Exception as exc:  # noqa: BLE001 - a disk or a network that fails must not stop the server
                    log.error(
                        "cannot publish %s to %s yet (%s); it stays in the journal and is retried",
                        segment.name,
                        self.destination.name,
                        " ".join(str(exc).split())[:200],
                    )
                    with lock:
                        self.pending_since = self.pending_since or time.monotonic() - self.flush_seconds
                    self.retry_after = time.monotonic() + RETRY_SECONDS
                    return False
                with lock:
                    self.counts.update({f"skipped: {why}": n for why, n in records.skipped.items()})
            return True

    def _hand_over(self, segment: Path, records: SegmentRecords) -> None:
        destination = self.destination
        files = 0
        if isinstance(destination, FileLayout):
            for source_id, day, name, content in segment_files(segment, records):
                destination.write(object_key(source_id, day, name), igzip.compress(content, compresslevel=1))
                files += 1
        else:
            for source_id, lines in records.by_source().items():
                for start in range(0, len(lines), DELIVER_LINES):
                    destination.deliver(source_id, lines[start : start + DELIVER_LINES])
            destination.flush()
        self.counts.update(stored=records.messages, files=files)

    def close(self) -> None:
        """Close the destination (its counts kept for the summary) and the journal, counting the
        acknowledged messages it still holds (what could not be published: the next collector
        started on this journal publishes them)."""
        try:
            self.delivery = self.destination.close()
        except Exception as exc:  # noqa: BLE001 - what it did not take stays in its journal
            log.error("cannot close %s (%s)", self.destination.name, " ".join(str(exc).split())[:200])
        self.journal.close()
        self.counts["unpublished"] = self.journal.held_messages()

    def summary(self) -> dict:
        skipped = {
            k.removeprefix("skipped: "): v for k, v in self.counts.items() if k.startswith("skipped: ")
        }
        files = isinstance(self.destination, FileLayout)
        delivery = self.delivery.as_dict() if self.delivery and not files else {}
        return {
            "stored": self.counts["stored"],
            "files": self.counts["files"],
            "unpublished": self.counts["unpublished"],
            "skipped": skipped,
            **{key: delivery[key] for key in ("not_sent", "retries", "requests") if key in delivery},
        }


class Collector:
    """Accepts messages for known write keys, journals them for each destination, and publishes
    each destination's journal to it."""

    def __init__(
        self,
        sources_by_key: dict[str, CollectorSource],
        destinations: Sequence[Destination],
        journal: Path,
        *,
        fsync: bool = False,
        flush_bytes: int = 8 << 20,
        flush_seconds: float = 60.0,
        strict_keys: bool = False,
        process: str | None = None,
        locks: Mapping[Path, JournalLock] | None = None,
    ):
        """`journal` is the root: each destination's journal is a folder of its own under it
        (`process` names a subfolder, for one of several server processes)."""
        self.sources_by_key = sources_by_key
        self.strict_keys = strict_keys
        self.outlets = []
        for destination in destinations:
            folder = journal_folder(journal, destination.name)
            folder = folder / process if process else folder
            self.outlets.append(
                Outlet(
                    destination,
                    Journal(folder, fsync, (locks or {}).get(folder)),
                    flush_bytes,
                    flush_seconds,
                )
            )
        self.counts: Counter = Counter()  # accepted, and "dropped: <reason>"
        self.lock = threading.Lock()  # journal appends and rotation

    def accept(self, request: Request, body: bytes) -> None:
        """Validate one request and journal its accepted messages; raises BadRequest for what
        Segment refuses whole (and 503 when a journal cannot be written)."""
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
                self._journal(data)
            tally["accepted"] += len(lines)
            self.counts.update(tally)

    def _journal(self, data: bytes) -> None:
        """Append to every destination's journal, or to none (a 503 the client retries)."""
        done: list[tuple[Outlet, int]] = []
        try:
            for outlet in self.outlets:
                size = outlet.journal.size()
                outlet.journal.append(data)
                done.append((outlet, size))
        except OSError as exc:
            for appended, size in done:
                appended.journal.undo(size)
            log.error("cannot journal (%s): answering 503 until it can", exc.strerror or exc)
            raise BadRequest(503, "the collector cannot store messages right now; retry") from None
        for outlet, _ in done:
            outlet.appended(len(data))

    def _count(self, tally: Counter) -> None:
        with self.lock:
            self.counts.update(tally)

    def due(self) -> list[Outlet]:
        """The destinations whose journal is due to be published."""
        with self.lock:
            return [outlet for outlet in self.outlets if outlet.due()]

    def publish(self) -> bool:
        """Publish every destination's journal, one after another; False if any failed."""
        return all([outlet.publish(self.lock) for outlet in self.outlets])

    def close(self) -> None:
        """Close every destination and its journal."""
        for outlet in self.outlets:
            with self.lock:
                outlet.close()

    def summary(self) -> dict:
        with self.lock:
            counts = dict(self.counts)
            outlets = {outlet.destination.name: outlet.summary() for outlet in self.outlets}
        dropped = {
            key.removeprefix("dropped: "): value
            for key, value in counts.items()
            if key.startswith("dropped: ")
        }
        return {
            "accepted": counts.get("accepted", 0),
            "stored": sum(outlet["stored"] for outlet in outlets.values()),
            "files": sum(outlet["files"] for outlet in outlets.values()),
            "unpublished": sum(outlet["unpublished"] for outlet in outlets.values()),
            "dropped": dropped,
            "destinations": outlets,
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
        await asyncio.to_thread(self.collector.publish)  # what a killed run left in the journals
        self.ready.set()
        if on_ready:
            on_ready(self)
        publishing: dict[Outlet, asyncio.Task] = {}  # each destination on its own: none waits for another
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), 1.0)
            except TimeoutError:
                for outlet in self.collector.due():
                    if outlet not in publishing or publishing[outlet].done():
                        publishing[outlet] = asyncio.create_task(
                            asyncio.to_thread(outlet.publish, self.collector.lock)
                        )
        await runner.cleanup()  # no new connections; requests in flight get SHUTDOWN_GRACE seconds
        await asyncio.gather(*publishing.values())
        await asyncio.gather(*(self._publish_all(outlet) for outlet in self.collector.outlets))
        self.collector.close()

    async def _publish_all(self, outlet: Outlet) -> None:
        """Publish everything at a stop; what cannot be stays in the journal for the next start."""
        for _ in range(5):
            if await asyncio.to_thread(outlet.publish, self.collector.lock):
                return
            await asyncio.sleep(RETRY_SECONDS)
