"""S3 objects as a filesystem DuckDB reads from as it needs them (fsspec, over boto3), so that a
query that stops early (LIMIT 20) fetches little, and nothing is downloaded first. DuckDB's own
S3 support (httpfs) is an extension downloaded at first use, which an offline machine cannot do."""

from __future__ import annotations

import threading

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from toolkit.aws.s3 import AwsOptions, S3Url, aws_error

BLOCK = 4 << 20  # bytes a read fetches at a time: a typical Segment log file in one request


class S3Files(AbstractFileSystem):
    """Read-only s3://bucket/key files; counts what it fetched (bytes, objects) for the user."""

    protocol = "s3"
    cachable = False  # one instance a run: it holds that run's client and counts

    def __init__(self, aws: AwsOptions, sizes: dict[str, int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.client = aws.client("s3")
        self.sizes = dict(sizes or {})  # s3://bucket/key -> size, known from the listing
        self.bytes_read = 0
        self.objects_read: set[str] = set()
        self._modified: dict = {}
        self._lock = threading.Lock()

    def _call(self, what: str, function, **kwargs):
        import botocore.exceptions

        try:
            return function(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            error = aws_error(exc, what)
            if isinstance(exc, botocore.exceptions.ClientError) and exc.response.get("Error", {}).get(
                "Code"
            ) in ("NoSuchKey", "404"):
                raise FileNotFoundError(str(error)) from None
            raise OSError(str(error)) from None

    def info(self, path, **kwargs) -> dict:
        url = S3Url.parse(_with_protocol(path))
        name = str(url)
        if name not in self.sizes:
            head = self._call(f"cannot read {name}", self.client.head_object, Bucket=url.bucket, Key=url.key)
            self.sizes[name] = head["ContentLength"]
        return {"name": name, "size": self.sizes[name], "type": "file"}

    def modified(self, path):
        """When the object was last written (DuckDB asks, to know a file has not changed)."""
        url = S3Url.parse(_with_protocol(path))
        name = str(url)
        if name not in self._modified:
            self._modified[name] = self._call(
                f"cannot read {name}", self.client.head_object, Bucket=url.bucket, Key=url.key
            )["LastModified"]
        return self._modified[name]

    def ls(self, path, detail=True, **kwargs):
        url = S3Url.parse(_with_protocol(path))
        prefix = url.key.rstrip("/") + "/" if url.key else ""
        entries = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=url.bucket, Prefix=prefix, Delimiter="/"
        ):
            entries += [
                {"name": f"s3://{url.bucket}/{p['Prefix'].rstrip('/')}", "size": 0, "type": "directory"}
                for p in page.get("CommonPrefixes", [])
            ]
            entries += [
                {"name": f"s3://{url.bucket}/{o['Key']}", "size": o["Size"], "type": "file"}
                for o in page.get("Contents", [])
            ]
        return entries if detail else [entry["name"] for entry in entries]

    def _open(self, path, mode="rb", block_size=None, autocommit=True, cache_options=None, **kwargs):
        if mode != "rb":
            raise OSError(f"{path}: S3 logs are read-only here")
        return _S3File(
            self,
            _with_protocol(path),
            mode,
            block_size or BLOCK,
            cache_type="readahead",
            size=self.info(path)["size"],
        )

    def fetch(self, path: str, start: int, end: int) -> bytes:
        url = S3Url.parse(path)
        body = self._call(
            f"cannot read {path}",
            self.client.get_object,
            Bucket=url.bucket,
            Key=url.key,
            Range=f"bytes={start}-{end - 1}",
        )["Body"].read()
        with self._lock:
            self.bytes_read += len(body)
            self.objects_read.add(path)
        return body


class _S3File(AbstractBufferedFile):
    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.fetch(self.path, start, end) if start < end else b""


def _with_protocol(path: str) -> str:
    return path if str(path).startswith("s3://") else f"s3://{path}"
