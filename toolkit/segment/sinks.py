"""Where generated Segment log files go: a local folder or an S3 prefix."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from toolkit.aws.s3 import AwsOptions, S3Url, aws_error, is_s3
from toolkit.errors import UsageError
from toolkit.files import create_exclusively, write_atomically
from toolkit.segment.layout import ROOT

RUN_MARKER = ".toolkit-run"  # beside segment-logs/: which simulated run wrote the logs under it


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


class Sink(Protocol):
    """Receives whole log files by key (segment-logs/<source>/<day>/<name>.gz). Must be picklable."""

    def check(self) -> None: ...

    def claim(self, run: str) -> None:
        """Mark the destination as holding this run's logs; refuse one that holds another's."""

    def write(self, key: str, data: bytes) -> None: ...

    def describe(self) -> str: ...


class LocalSink:
    """Writes the S3 layout under a local folder; each file appears whole or not at all."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

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
                return
            except FileExistsError:
                pass  # another run took it first: is it this one?
        found = marker.read_text(encoding="utf-8").strip() if marker.is_file() else None
        if found != run:
            _refuse_other_run(str(self.root), found, run)

    def write(self, key: str, data: bytes) -> None:
        write_atomically(self.root / key, data)

    def describe(self) -> str:
        return str(self.root / "segment-logs")


class S3Sink:
    """Writes the S3 layout under s3://bucket/prefix with boto3; each object appears whole (S3 PUT)."""

    def __init__(self, url: str, aws: AwsOptions):
        self.url = S3Url.parse(url)
        self.aws = aws
        self._client = None

    def __getstate__(self) -> dict:
        return {"url": self.url, "aws": self.aws, "_client": None}  # clients do not cross processes

    @property
    def client(self):
        if self._client is None:
            self._client = self.aws.client("s3")
        return self._client

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
        import io

        # upload_fileobj switches to a multipart upload for large files
        self.client.upload_fileobj(io.BytesIO(data), self.url.bucket, self._key(key))

    def describe(self) -> str:
        return f"s3://{self.url.bucket}/{self._key('segment-logs')}"


def sink_for(out: str, aws: AwsOptions | None = None) -> Sink:
    """A LocalSink for a folder, an S3Sink for s3://bucket/prefix."""
    return S3Sink(out, aws or AwsOptions()) if is_s3(out) else LocalSink(out)
