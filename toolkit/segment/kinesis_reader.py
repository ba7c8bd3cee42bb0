"""Reading a Kinesis stream back as Segment log lines: every shard from the trim horizon to the
tip at the start of the run, each record's Data one JSON line, landed in local files the log
readers take (explore, transform, report), in pieces of bounded size.

Beside each landed file, a `.seq` file holds its records' sequence numbers, line for line, so a
bad record is named by its shard and sequence number (`locate`), read only for the few that are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from toolkit.aws.s3 import AwsOptions, aws_error
from toolkit.errors import UsageError
from toolkit.segment.kinesis import SCHEME, STREAM_NAME
from toolkit.segment.streams import RETRIABLE, client_for

PIECE_BYTES = 64 << 20  # a landed file's size
READ_LIMIT = 10_000  # records a GetRecords call asks for (the API's maximum)
THROTTLED_WAIT = 0.25  # seconds after a throttled read (5 reads a second a shard)


@dataclass
class LandedStream:
    """What was read: the landed files, the shard each came from, and the record count."""

    stream: str
    files: list[Path] = field(default_factory=list)
    shard_of: dict[Path, str] = field(default_factory=dict)
    records: int = 0

    def display(self, path: Path) -> str:
        """A landed file's name: its shard (and which piece of it, past the first)."""
        shard = self.shard_of[path]
        piece = [p for p in self.files if self.shard_of[p] == shard].index(path)
        return f"{SCHEME}{self.stream}/{shard}" + (f" (part {piece + 1})" if piece else "")


def stream_of(source: str) -> str:
    name = source[len(SCHEME) :].rstrip("/")
    if not STREAM_NAME.match(name):
        raise UsageError(
            f"`source` {source!r}: name a Kinesis stream, kinesis://STREAM", parameters=("source",)
        )
    return name


def land_stream(source: str, aws: AwsOptions, folder: Path) -> LandedStream:
    """Every record of the stream `source` (kinesis://STREAM) up to now, as JSON lines under `folder`."""
    import botocore.exceptions

    stream = stream_of(source)
    landed = LandedStream(stream)
    client = client_for(aws, "kinesis")
    started = datetime.now(UTC)
    try:
        shards = _shards(client, stream)
        for shard in shards:
            _land_shard(client, stream, shard, started, folder, landed)
    except client.exceptions.ResourceNotFoundException:
        raise UsageError(f"Kinesis stream {stream} does not exist") from None
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise aws_error(exc, f"cannot read Kinesis stream {stream}") from None
    return landed


def _shards(client: Any, stream: str) -> list[str]:
    shards: list[str] = []
    answer = client.list_shards(StreamName=stream)
    while True:
        shards += [shard["ShardId"] for shard in answer["Shards"]]
        if not answer.get("NextToken"):
            return shards
        answer = client.list_shards(NextToken=answer["NextToken"])


def _line(data: bytes) -> bytes:
    """A record's Data as one line: a message never holds a raw newline, but a Firehose-style
    record ends with one, and pretty-printed JSON is made compact; what cannot be parsed keeps its
    bytes on one line, to be named as a bad record."""
    data = data[:-1] if data.endswith(b"\n") else data
    if b"\n" in data or b"\r" in data:
        try:
            data = orjson.dumps(orjson.loads(data))
        except orjson.JSONDecodeError:
            data = data.replace(b"\r", b" ").replace(b"\n", b" ")
    return (data or b"null") + b"\n"


class _Pieces:
    """A shard's landed files, each up to PIECE_BYTES, with their sequence numbers beside them."""

    def __init__(self, folder: Path, shard: str, landed: LandedStream):
        self.folder, self.shard, self.landed = folder, shard, landed
        self.lines: Any = None
        self.sequences: Any = None
        self.size = 0

    def write(self, line: bytes, sequence: str) -> None:
        if self.lines is None or self.size >= PIECE_BYTES:
            self.close()
            path = self.folder / f"{len(self.landed.files):06d}-{self.shard}.json"
            self.landed.files.append(path)
            self.landed.shard_of[path] = self.shard
            self.lines = open(path, "wb")  # noqa: SIM115 - closed by close(), piece by piece
            self.sequences = open(path.with_suffix(".seq"), "w", encoding="ascii")  # noqa: SIM115
            self.size = 0
        self.lines.write(line)
        self.sequences.write(sequence + "\n")
        self.size += len(line)
        self.landed.records += 1

    def close(self) -> None:
        if self.lines is not None:
            self.lines.close()
            self.sequences.close()
            self.lines = self.sequences = None


def _land_shard(
    client: Any, stream: str, shard: str, started: datetime, folder: Path, landed: LandedStream
) -> None:
    import botocore.exceptions

    iterator = client.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    pieces = _Pieces(folder, shard, landed)
    try:
        while iterator:
            try:
                answer = client.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
            except botocore.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in RETRIABLE:
                    time.sleep(THROTTLED_WAIT)
                    continue
                raise
            for record in answer["Records"]:
                if record["ApproximateArrivalTimestamp"] > started:
                    return  # past the tip at the start of the run
                pieces.write(_line(record["Data"]), record["SequenceNumber"])
            if not answer["Records"] and answer.get("MillisBehindLatest", 0) == 0:
                return  # at the tip
            iterator = answer.get("NextShardIterator")
    finally:
        pieces.close()


def sequence_at(path: Path, line: int) -> str | None:
    """The sequence number of the record landed on `line` (1-based) of `path`."""
    with open(path.with_suffix(".seq"), encoding="ascii") as handle:
        for number, sequence in enumerate(handle, start=1):
            if number == line:
                return sequence.strip()
    return None
