"""Segment's S3 destination layout as a destination: a local folder or an S3 prefix.

Both take whole log files by key (FileLayout: the generator and the collector hand them over
already gzipped) or messages (Destination: grouped by source and received day into log files
named as Segment names them, written at each flush)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from isal import igzip

from toolkit.aws.s3 import AwsOptions, S3Url, aws_error, is_s3
from toolkit.errors import UsageError
from toolkit.files import create_exclusively, write_atomically
from toolkit.segment.destination import DeliveryCounts
from toolkit.segment.layout import CATALOG_NAME, ROOT, line_received_day_ms, log_file_name, object_key

RUN_MARKER = ".toolkit-run"  # beside segment-logs/: which simulated run wrote the logs under it
FLUSH_BYTES = 8 << 20  # messages handed to deliver() are written as files once this much waits


def _refuse_other_run(destination: str, found: str | None, run: str) -> None:
    if found is None:
        raise UsageError(
            f"`out` {destination} already holds {ROOT}/ not written by toolkit generate; users of two "
            "populations would mix: use another `out`",
            parameters=("out",),
        )
    raise UsageError(
        f"`out` {destination} already holds the logs of another run ({found}); users of two runs would "
        "mix: use another `out`, or remove it",
        parameters=("out",),
    )


class _SegmentLayout(ABC):
    """What the folder and the S3 prefix share: messages buffered into log files by source and day."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], list[bytes]] = defaultdict(list)
        self._pending_bytes = 0
        self._counts = DeliveryCounts()

    @abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Store one gzipped log file under its key."""

    def deliver(self, source_id: str, lines: Sequence[bytes]) -> None:
        for line in lines:
            self._pending[source_id, line_received_day_ms(line)].append(line)
            self._pending_bytes += len(line)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        names = random.Random()
        uploaded = int(time.time() * 1000)
        for (source_id, day), lines in sorted(self._pending.items()):
            self.write(
                object_key(source_id, day, log_file_name(names, uploaded)),
                igzip.compress(b"".join(lines), compresslevel=1),
            )
            self._counts.delivered += len(lines)
            self._counts.requests += 1
        self._pending.clear()
        self._pending_bytes = 0

    def close(self) -> DeliveryCounts:
        self.flush()
        return self._counts


class LocalSink(_SegmentLayout):
    """Writes the S3 layout under a local folder; each file appears whole or not at all."""

    def __init__(self, root: str | Path):
        super().__init__()
        self.root = Path(root)
        self.fresh = False  # this run claimed a folder that held no run's logs

    @property
    def name(self) -> str:
        return str(self.root.absolute() / ROOT)

    def check(self) -> None:
        """Fail early, before any work, if the folder cannot be written."""
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"`out` {self.root} is a file, not a folder", parameters=("out",))
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".toolkit-write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise UsageError(
                f"cannot write to `out` {self.root}: {exc.strerror or exc}", parameters=("out",)
            ) from None

    def claim(self, run: str) -> None:
        """The marker is created exclusively: of two runs starting at once, one proceeds."""
        marker = self.root / RUN_MARKER
        if not marker.exists() and not any((self.root / ROOT).glob("*/*/*.gz")):
            try:
                create_exclusively(marker, run.encode() + b"\n")
                self.fresh = True
                return
            except FileExistsError:
                pass  # another run took it first: is it this one?
        found = marker.read_text(encoding="utf-8").strip() if marker.is_file() else None
        if found != run:
            _refuse_other_run(str(self.root), found, run)

    def write(self, key: str, data: bytes) -> None:
        write_atomically(self.root / key, data)

    def abandon(self) -> None:
        """Remove what a run that failed or was interrupted wrote into the fresh folder it claimed
        (its log files, catalog export and marker): a run's files are there whole or not at all.
        A folder that held the run's logs before (a run done again) is left as it was."""
        if not self.fresh:
            return
        for path in sorted((self.root / ROOT).glob("*/*/*.gz")):
            path.unlink(missing_ok=True)
        for folder in sorted((self.root / ROOT).glob("*/*"), reverse=True) + sorted(
            (self.root / ROOT).glob("*")
        ):
            with contextlib.suppress(OSError):  # a folder holding anything else stays
                folder.rmdir()
        with contextlib.suppress(OSError):
            (self.root / ROOT).rmdir()
        (self.root / CATALOG_NAME).unlink(missing_ok=True)
        (self.root / RUN_MARKER).unlink(missing_ok=True)


LOG_OBJECT_HEADERS = {"ContentType": "text/plain", "ContentEncoding": "gzip"}


class S3Sink(_SegmentLayout):
    """Writes the S3 layout under s3://bucket/prefix with boto3; each object appears whole (S3 PUT)."""

    def __init__(self, url: str, aws: AwsOptions):
        super().__init__()
        self.url = S3Url.parse(url)
        self.aws = aws
        self._client: Any = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None}  # clients do not cross processes

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.aws.client("s3")
        return self._client

    @property
    def name(self) -> str:
        return f"s3://{self.url.bucket}/{self._key(ROOT)}"

    def _key(self, key: str) -> str:
        prefix = self.url.key
        return f"{prefix.rstrip('/')}/{key}" if prefix else key

    def check(self) -> None:
        """Fail early if the bucket cannot be reached or written."""
        import botocore.exceptions

        probe = self._key(f".toolkit-write-probe-{os.getpid()}")
        try:
            self.client.put_object(Bucket=self.url.bucket, Key=probe, Body=b"")
            self.client.delete_object(Bucket=self.url.bucket, Key=probe)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise aws_error(exc, f"cannot write to {self.url}") from None

    def claim(self, run: str) -> None:
        import botocore.exceptions

        try:
            try:
                found = (
                    self.client.get_object(Bucket=self.url.bucket, Key=self._key(RUN_MARKER))["Body"]
                    .read()
                    .decode()
                    .strip()
                )
            except self.client.exceptions.NoSuchKey:
                found = None
            if found == run:
                return
            if found is not None or self.client.list_objects_v2(
                Bucket=self.url.bucket, Prefix=self._key(ROOT + "/"), MaxKeys=1
            ).get("KeyCount", 0):
                _refuse_other_run(str(self.url), found, run)
            self.client.put_object(
                Bucket=self.url.bucket, Key=self._key(RUN_MARKER), Body=run.encode() + b"\n"
            )
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise aws_error(exc, f"cannot mark {self.url} as this run's") from None

    def write(self, key: str, data: bytes) -> None:
        # upload_fileobj switches to a multipart upload for large files; log files carry the
        # headers Segment's S3 destination sets on its objects
        extra = LOG_OBJECT_HEADERS if key.endswith(".gz") else None
        self.client.upload_fileobj(io.BytesIO(data), self.url.bucket, self._key(key), ExtraArgs=extra)


def sink_for(out: str, aws: AwsOptions | None = None) -> LocalSink | S3Sink:
    """A LocalSink for a folder, an S3Sink for s3://bucket/prefix."""
    return S3Sink(out, aws or AwsOptions()) if is_s3(out) else LocalSink(out)
