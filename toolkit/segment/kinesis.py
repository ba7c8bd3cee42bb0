"""Segment's Amazon Kinesis destination: every message of a source put on the source's stream.

As Segment sends them: `Data` is the stored message, JSON without a newline and without a
wrapper; `PartitionKey` is the userId, else the anonymousId (with `partition_key="message-id"`,
Segment's "Use Segment Message ID" setting: the messageId); PutRecords, 500 records and 5 MiB a
request at most (the limits moto enforces; AWS allows 10 MiB now); `screen` calls are not sent.
A stream name may hold `{source}` (the source's name in the scenario) for a stream per source,
as Segment is configured per source.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from toolkit.aws.s3 import AwsOptions, aws_error
from toolkit.errors import UsageError
from toolkit.segment.destination import DeliveryCounts
from toolkit.segment.streams import Limits, Record, StreamBatcher, client_for

SCHEME = "kinesis://"
STREAM_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,128}$")
PARTITION_KEYS = ("user", "message-id")
MAX_KEY_LENGTH = 256
NOT_SENT_SCREEN = "screen calls (Segment's Kinesis destination does not send them)"


class PutRecords:
    limits = Limits(records=500, request_bytes=5 << 20, record_bytes=1 << 20)

    def send(self, client: Any, stream: str, records: Sequence[Record]) -> list[str | None]:
        answer = client.put_records(
            StreamName=stream, Records=[{"Data": r.data, "PartitionKey": r.key} for r in records]
        )
        return [entry.get("ErrorCode") for entry in answer["Records"]]


def stream_template(out: str, per_source: bool) -> str:
    """The stream name (or template) a kinesis:// or firehose:// value names, checked."""
    scheme, _, name = out.partition("://")
    if per_source != ("{source}" in name):
        raise UsageError(
            f"`out` {out!r}: a stream per source needs {{source}} in the name (e.g. {scheme}://segment-{{source}}),"
            " and {source} in the name needs `stream_per_source`",
            parameters=("out", "stream_per_source"),
        )
    if not STREAM_NAME.match(name.replace("{source}", "x")):
        raise UsageError(
            f"`out` {out!r}: a stream name is 1-128 letters, digits, '_', '.' or '-'", parameters=("out",)
        )
    return name


def partition_key(message: dict, choice: str) -> str | None:
    """The key Segment puts a message on its shard by, or None if it has none Kinesis takes."""
    if choice == "message-id":
        key = message.get("messageId")
    else:
        key = message.get("userId") or message.get("anonymousId")
    text = key if isinstance(key, str) else None if key is None else orjson.dumps(key).decode()
    return text if text and len(text) <= MAX_KEY_LENGTH else None


class KinesisDestination:
    def __init__(
        self,
        out: str,
        aws: AwsOptions,
        *,
        source_names: Mapping[str, str],
        partition_key: str = "user",
        stream_per_source: bool = False,
        create: bool = False,
        shards: int = 1,
    ):
        if partition_key not in PARTITION_KEYS:
            raise UsageError(
                f"`partition_key` must be one of {', '.join(PARTITION_KEYS)}, not {partition_key!r}",
                parameters=("partition_key",),
            )
        if not 1 <= shards <= 500:
            raise UsageError(f"`shards` must be 1 to 500, not {shards}", parameters=("shards",))
        self.template = stream_template(out, stream_per_source)
        self.aws, self.source_names = aws, dict(source_names)
        self.key_choice, self.create, self.shards = partition_key, create, shards
        self.batcher = StreamBatcher(PutRecords(), aws, "kinesis", "Kinesis")

    @property
    def name(self) -> str:
        return SCHEME + self.template

    def stream(self, source_id: str) -> str:
        return self.template.replace("{source}", self.source_names.get(source_id, source_id))

    def check(self) -> None:
        """Every stream exists (or is created, with `create`) and is active."""
        for stream in sorted({self.stream(source_id) for source_id in self.source_names} or {self.template}):
            ensure_stream(self.aws, stream, create=self.create, shards=self.shards)

    def claim(self, run: str) -> None:
        """A stream cannot say which run put its records: nothing to claim."""

    def deliver(self, source_id: str, lines: Sequence[bytes]) -> None:
        stream = self.stream(source_id)
        for line in lines:
            message = orjson.loads(line)
            if message.get("type") == "screen":
                self.batcher.counts.not_sent[NOT_SENT_SCREEN] += 1
                continue
            key = partition_key(message, self.key_choice)
            if key is None:
                self.batcher.counts.not_sent["no partition key (1-256 characters) in the message"] += 1
                continue
            self.batcher.add(stream, Record(line.rstrip(b"\n"), key))

    def flush(self) -> None:
        self.batcher.flush()

    def close(self) -> DeliveryCounts:
        self.flush()
        return self.batcher.counts


def ensure_stream(aws: AwsOptions, stream: str, *, create: bool, shards: int) -> None:
    """Fail with one line if the stream cannot be used; create it first if asked to."""
    import botocore.exceptions

    client = client_for(aws, "kinesis")
    try:
        try:
            status = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        except client.exceptions.ResourceNotFoundException:
            if not create:
                raise UsageError(
                    f"Kinesis stream {stream} does not exist; create it, or let `create` make it",
                    parameters=("create",),
                ) from None
            client.create_stream(StreamName=stream, ShardCount=shards)
            status = {"StreamStatus": "CREATING"}
        deadline = time.monotonic() + 120
        while status["StreamStatus"] in ("CREATING", "UPDATING"):
            if time.monotonic() > deadline:
                raise UsageError(f"Kinesis stream {stream} did not become active within 120 s")
            time.sleep(0.2)
            status = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if status["StreamStatus"] != "ACTIVE":
            raise UsageError(f"Kinesis stream {stream} is {status['StreamStatus']}, not ACTIVE")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise aws_error(exc, f"cannot use Kinesis stream {stream}") from None
