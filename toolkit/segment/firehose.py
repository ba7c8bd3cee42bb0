"""Segment's Amazon Kinesis Firehose destination, and the S3 layout a Firehose delivery stream
leaves in its bucket.

Segment maps events to delivery streams with its `mappedStreams` setting: event names or call
types, case-insensitive, `*` for every event; an event no row maps is not sent. Here a message
goes to one stream: its event name's row, else its type's, else `*`'s. Each record is the stored
message, JSON plus a newline (Segment adds it "for easy downstream parsing"); Segment sends one
PutRecord per event (its IAM template grants no PutRecordBatch), PutRecordBatch is offered too.

Firehose writes what it buffered (`SizeInMBs` 1-128, default 5; `IntervalInSeconds` 0-900,
default 300; whichever comes first) as one object under `<prefix>YYYY/MM/dd/HH/` (UTC, the
arrival of the oldest record in it), named `<stream>-<version>-YYYY-MM-dd-HH-mm-ss-<uuid>`, plus
`.gz` when GZIP-compressed: `FirehoseLayout` writes exactly that, in a folder or a bucket, with
the messages' receivedAt as their arrival. Prefixes with `!{...}` expressions are not evaluated.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from isal import igzip

from toolkit.aws.s3 import AwsOptions, S3Url, aws_error, is_s3
from toolkit.errors import UsageError
from toolkit.files import write_atomically
from toolkit.segment.destination import DeliveryCounts
from toolkit.segment.ids import derive_seed, uuid4_text
from toolkit.segment.kinesis import STREAM_NAME
from toolkit.segment.replay import received_text
from toolkit.segment.streams import Limits, Record, StreamBatcher, client_for
from toolkit.segment.timestamps import parse_iso

SCHEME = "firehose://"
DEFAULT_LAYOUT_STREAM = "segment-events"
NOT_MAPPED = "events no mapping names (Segment's mappedStreams)"
COMPRESSIONS = ("none", "gzip")
API_CALLS = ("record", "batch")
# A Firehose object anywhere under a prefix: .../YYYY/MM/dd/HH/<stream>-<version>-<time>-<uuid>[.ext]
KEY_PATTERN = re.compile(
    r"(?:^|/)\d{4}/\d{2}/\d{2}/\d{2}/[A-Za-z0-9_.-]+-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.[0-9a-z!_.*'()-]+)?$"
)


@dataclass(frozen=True)
class StreamMap:
    """Segment's mappedStreams: event name or call type (lower-cased) -> delivery stream."""

    rows: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str) -> StreamMap:
        """`"Order Completed=orders,track=events,*=all"`."""
        rows = []
        for row in text.split(","):
            event, equals, stream = (part.strip() for part in row.partition("="))
            if not equals or not event or not STREAM_NAME.match(stream):
                raise UsageError(
                    f"`firehose_map` row {row.strip()!r}: write EVENT=STREAM (an event name, a call type "
                    "or *; a delivery stream name of letters, digits, '_', '.' or '-')",
                    parameters=("firehose_map",),
                )
            rows.append((event.lower(), stream))
        return cls(tuple(rows))

    def stream_for(self, message: dict) -> str | None:
        table = dict(self.rows)
        for choice in (message.get("event"), message.get("type"), "*"):
            if isinstance(choice, str) and choice.lower() in table:
                return table[choice.lower()]
        return None

    @property
    def streams(self) -> list[str]:
        return sorted({stream for _, stream in self.rows})

    def __str__(self) -> str:
        return ",".join(f"{event}={stream}" for event, stream in self.rows)


def stream_map(out_stream: str, text: str | None) -> StreamMap:
    """The map a Firehose destination uses: the one given, or every event to `out_stream`."""
    if text:
        mapped = StreamMap.parse(text)
        if out_stream and out_stream not in mapped.streams:
            raise UsageError(
                f"`out` firehose://{out_stream} is not one of the streams `firehose_map` names "
                f"({', '.join(mapped.streams)}); give firehose:// or one of them",
                parameters=("out", "firehose_map"),
            )
        return mapped
    if not out_stream:
        raise UsageError(
            "`out` firehose:// needs a delivery stream name, or `firehose_map`",
            parameters=("out", "firehose_map"),
        )
    return StreamMap((("*", out_stream),))


class PutRecord:
    limits = Limits(records=1, request_bytes=1000 * 1024, record_bytes=1000 * 1024)

    def send(self, client: Any, stream: str, records: Sequence[Record]) -> list[str | None]:
        client.put_record(DeliveryStreamName=stream, Record={"Data": records[0].data})
        return [None]


class PutRecordBatch:
    limits = Limits(records=500, request_bytes=4 << 20, record_bytes=1000 * 1024)

    def send(self, client: Any, stream: str, records: Sequence[Record]) -> list[str | None]:
        answer = client.put_record_batch(
            DeliveryStreamName=stream, Records=[{"Data": record.data} for record in records]
        )
        return [entry.get("ErrorCode") for entry in answer["RequestResponses"]]


class FirehoseDestination:
    """Messages put on delivery streams as Segment's Firehose destination puts them."""

    def __init__(self, out: str, aws: AwsOptions, *, firehose_map: str | None = None, api: str = "record"):
        if api not in API_CALLS:
            raise UsageError(
                f"`firehose_api` must be record or batch, not {api!r}", parameters=("firehose_api",)
            )
        self.stream = out[len(SCHEME) :]
        if self.stream and not STREAM_NAME.match(self.stream):
            raise UsageError(
                f"`out` {out!r}: a stream name is 1-64 letters, digits, '_', '.' or '-'", parameters=("out",)
            )
        self.map = stream_map(self.stream, firehose_map)
        self.aws = aws
        self.batcher = StreamBatcher(
            PutRecord() if api == "record" else PutRecordBatch(), aws, "firehose", "Firehose"
        )

    @property
    def name(self) -> str:
        return SCHEME + self.stream + ("" if self.map.rows == (("*", self.stream),) else f" ({self.map})")

    def check(self) -> None:
        import botocore.exceptions

        client = client_for(self.aws, "firehose")
        for stream in self.map.streams:
            try:
                status = client.describe_delivery_stream(DeliveryStreamName=stream)
            except client.exceptions.ResourceNotFoundException:
                raise UsageError(
                    f"Firehose delivery stream {stream} does not exist; create it first"
                ) from None
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                raise aws_error(exc, f"cannot use Firehose delivery stream {stream}") from None
            state = status["DeliveryStreamDescription"]["DeliveryStreamStatus"]
            if state != "ACTIVE":
                raise UsageError(f"Firehose delivery stream {stream} is {state}, not ACTIVE")

    def claim(self, run: str) -> None:
        """A delivery stream cannot say which run put its records: nothing to claim."""

    def deliver(self, source_id: str, lines: Sequence[bytes]) -> None:
        for line in lines:
            stream = self.map.stream_for(orjson.loads(line))
            if stream is None:
                self.batcher.counts.not_sent[NOT_MAPPED] += 1
            else:
                self.batcher.add(stream, Record(line if line.endswith(b"\n") else line + b"\n"))

    def flush(self) -> None:
        self.batcher.flush()

    def close(self) -> DeliveryCounts:
        self.flush()
        return self.batcher.counts


@dataclass
class _Buffer:
    lines: list[bytes]
    size: int
    oldest_ms: int
    newest_ms: int


class FirehoseLayout:
    """The objects Firehose delivery streams write to S3, in a local folder or under s3://."""

    def __init__(
        self,
        out: str,
        aws: AwsOptions,
        *,
        firehose_map: str | None = None,
        compression: str = "none",
        buffer_mb: float = 5,
        buffer_seconds: float = 300,
    ):
        if compression not in COMPRESSIONS:
            raise UsageError(
                f"`compression` must be none or gzip, not {compression!r}", parameters=("compression",)
            )
        if not (1 <= buffer_mb <= 128 and 0 <= buffer_seconds <= 900):
            raise UsageError(
                f"`buffer_mb` must be 1 to 128 and `buffer_seconds` 0 to 900 (as Firehose's BufferingHints), "
                f"not {buffer_mb} and {buffer_seconds}",
                parameters=("buffer_mb", "buffer_seconds"),
            )
        if "!{" in out:
            raise UsageError(
                f"`out` {out!r}: prefixes with !{{...}} expressions are not evaluated; give a plain prefix",
                parameters=("out",),
            )
        self.out, self.aws = out, aws
        self.map = (
            StreamMap.parse(firehose_map) if firehose_map else StreamMap((("*", DEFAULT_LAYOUT_STREAM),))
        )
        self._every = self.map.rows[0][1] if [e for e, _ in self.map.rows] == ["*"] else None
        self.compression = compression
        self.buffer_bytes, self.buffer_ms = int(buffer_mb * (1 << 20)), int(buffer_seconds * 1000)
        self.counts = DeliveryCounts()
        self._buffers: dict[str, _Buffer] = {}
        self._names: dict[str, random.Random] = {}
        self._hours: dict[bytes, int] = {}  # YYYY-MM-DDTHH -> its epoch ms
        self._client: Any = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None}

    @property
    def name(self) -> str:
        where = self.out if is_s3(self.out) else str(Path(self.out).absolute())
        return f"{where} (Firehose layout: {self.map}, {self.compression})"

    def check(self) -> None:
        if is_s3(self.out):
            from toolkit.segment.sinks import S3Sink

            S3Sink(self.out, self.aws).check()
        else:
            from toolkit.segment.sinks import LocalSink

            LocalSink(self.out).check()

    def claim(self, run: str) -> None:
        """Firehose objects carry no run marker; their names never repeat."""

    def deliver(self, source_id: str, lines: Sequence[bytes]) -> None:
        every = self._every
        for line in lines:
            stream = every or self.map.stream_for(orjson.loads(line))  # a message is parsed only to route it
            if stream is None:
                self.counts.not_sent[NOT_MAPPED] += 1
                continue
            arrival = self._arrival_ms(received_text(line))
            buffer = self._buffers.get(stream)
            if buffer is not None and (
                max(buffer.newest_ms, arrival) - min(buffer.oldest_ms, arrival) >= self.buffer_ms
            ):
                self._write(stream, buffer.oldest_ms + self.buffer_ms)  # the interval ran out first
                buffer = None
            if buffer is None:
                buffer = self._buffers[stream] = _Buffer([], 0, arrival, arrival)
            buffer.lines.append(line if line.endswith(b"\n") else line + b"\n")
            buffer.size += len(line)
            buffer.oldest_ms = min(buffer.oldest_ms, arrival)
            buffer.newest_ms = max(buffer.newest_ms, arrival)
            if buffer.size >= self.buffer_bytes:
                self._write(stream, buffer.newest_ms)

    def _arrival_ms(self, text: bytes) -> int:
        """A receivedAt in epoch ms; Segment's own format (2019-05-02T03:19:05.398Z) without
        parsing a date for every message."""
        if len(text) != 24 or text[23:] != b"Z":
            return int(parse_iso(text.decode()).timestamp() * 1000)
        hour = self._hours.get(text[:13])
        if hour is None:
            hour = self._hours[text[:13]] = int(parse_iso(text[:13].decode() + ":00:00Z").timestamp() * 1000)
        return hour + int(text[14:16]) * 60_000 + int(text[17:19]) * 1000 + int(text[20:23])

    def _write(self, stream: str, delivered_ms: int) -> None:
        buffer = self._buffers.pop(stream)
        data = b"".join(buffer.lines)
        if self.compression == "gzip":
            data = igzip.compress(data, compresslevel=1)
        names = self._names.setdefault(stream, random.Random(derive_seed(stream, buffer.oldest_ms)))
        folder = datetime.fromtimestamp(buffer.oldest_ms / 1000, UTC).strftime("%Y/%m/%d/%H/")
        when = datetime.fromtimestamp(max(delivered_ms, buffer.oldest_ms) / 1000, UTC)
        name = f"{stream}-1-{when.strftime('%Y-%m-%d-%H-%M-%S')}-{uuid4_text(names)}"
        self._put(folder + name + (".gz" if self.compression == "gzip" else ""), data)
        self.counts.delivered += len(buffer.lines)
        self.counts.requests += 1

    def _put(self, key: str, data: bytes) -> None:
        if not is_s3(self.out):
            write_atomically(Path(self.out) / key, data)
            return
        import io

        import botocore.exceptions

        url = S3Url.parse(self.out)
        prefix = url.key if not url.key or url.key.endswith("/") else url.key + "/"
        if self._client is None:
            self._client = self.aws.client("s3")
        try:
            self._client.upload_fileobj(io.BytesIO(data), url.bucket, prefix + key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise aws_error(exc, f"cannot write s3://{url.bucket}/{prefix}{key}") from None

    def flush(self) -> None:
        for stream in list(self._buffers):
            self._write(stream, self._buffers[stream].newest_ms)

    def close(self) -> DeliveryCounts:
        self.flush()
        return self.counts


def is_firehose_key(key: str) -> bool:
    return KEY_PATTERN.search(key) is not None
