"""S3 paths and transfers with boto3: the standard credential chain, a profile, a region, an endpoint."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError

# Every AWS call waits at most this long to connect and for an answer, and is retried this many
# times (with backoff): an endpoint that accepts and never answers is given up on in about a minute.
CONNECT_SECONDS = 5
READ_SECONDS = 20
RETRIES = 2


@dataclass(frozen=True)
class AwsOptions:
    """How to reach AWS (or an S3-compatible store such as moto's server)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if self.endpoint_url is not None and not self.endpoint_url.startswith(("http://", "https://")):
            raise UsageError(
                f"`endpoint_url` {self.endpoint_url!r} needs a scheme: http://HOST:PORT or https://HOST",
                parameters=("endpoint_url",),
            )

    def client(self, service: str, config: Any = None):
        """A boto3 client, its calls bounded in time (CONNECT_SECONDS, READ_SECONDS, RETRIES) unless
        `config` (a botocore Config) says otherwise."""
        import boto3
        import botocore.exceptions
        from botocore.config import Config

        bounded = Config(
            connect_timeout=CONNECT_SECONDS,
            read_timeout=READ_SECONDS,
            retries={"max_attempts": RETRIES, "mode": "standard"},
        )
        try:
            session = boto3.Session(profile_name=self.profile, region_name=self.region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise UsageError(
                profile_not_found(exc.kwargs.get("profile", self.profile)), parameters=("profile",)
            ) from None
        return session.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region or session.region_name or "us-east-1",
            config=bounded if config is None else bounded.merge(config),
        )


def profile_not_found(profile: str | None) -> str:
    """The one line for a profile that ~/.aws/config and ~/.aws/credentials do not hold (it names
    the parameter `profile`: raise it with parameters=("profile",))."""
    return (
        f"AWS profile {profile!r} not found (given by `profile` or AWS_PROFILE); add it to "
        "~/.aws/config (aws configure --profile NAME) or give one that is there"
    )


@dataclass(frozen=True)
class S3Url:
    bucket: str
    key: str  # no leading slash; may be "" or end with "/"

    @classmethod
    def parse(cls, url: str) -> S3Url:
        if not url.startswith("s3://") or len(url) <= 5 or url[5] == "/":
            raise UsageError(f"{url!r} is not an S3 URL; use s3://bucket/prefix")
        bucket, _, key = url[5:].partition("/")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def is_s3(location: str | os.PathLike) -> bool:
    """Whether a location is in S3; a near miss such as s3:/bucket is an error, not a local folder."""
    text = str(location)
    if text.lower().startswith("s3:") and not text.startswith("s3://"):
        raise UsageError(f"{text!r} looks like an S3 URL but is not one; use s3://bucket/prefix")
    return text.startswith("s3://")


def aws_error(exc: Exception, what: str) -> UsageError:
    """One line naming what failed and why, for a boto3/botocore error."""
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return UsageError(
            f"{what}: no AWS credentials found; configure the standard chain (env, ~/.aws) or pass `profile`",
            parameters=("profile",),
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return UsageError(f"{what}: {error.get('Code', 'error')}: {error.get('Message', str(exc))}")
    if isinstance(exc, (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)):
        where = exc.kwargs.get("endpoint_url", "the endpoint")
        return UsageError(
            f"{what}: no answer from {where} within {READ_SECONDS} s, {RETRIES} retries; check --endpoint-url"
            " and the network"
        )
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return UsageError(
            f"{what}: cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}; check `endpoint_url` "
            "and the network",
            parameters=("endpoint_url",),
        )
    return UsageError(f"{what}: {exc}")


def list_keys(url: S3Url, aws: AwsOptions, suffix: str = "") -> list[tuple[str, int]]:
    """(key, size) of every object under the URL's prefix whose key ends with `suffix`."""
    import botocore.exceptions

    client = aws.client("s3")
    keys: list[tuple[str, int]] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=url.bucket, Prefix=url.key):
            keys.extend(
                (item["Key"], item["Size"])
                for item in page.get("Contents", [])
                if item["Key"].endswith(suffix)
            )
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise aws_error(exc, f"cannot list {url}") from None
    return keys


def local_path(folder: Path, key: str) -> Path | None:
    """Where an object is saved under `folder`, keeping its key's path; None for a key that would
    land outside the folder (absolute, with '..', '.' or empty parts, backslashes or NUL)."""
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or "\\" in key or "\x00" in key:
        return None
    local = folder.joinpath(*parts)
    return local if local.resolve().is_relative_to(folder.resolve()) else None


def download(url: S3Url, targets: dict[str, Path], aws: AwsOptions, threads: int = 8) -> None:
    """Download objects to their local paths (key -> path, from local_path)."""
    import botocore.exceptions

    client = aws.client("s3")

    def fetch(item: tuple[str, Path]) -> None:
        key, local = item
        local.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(url.bucket, key, str(local))

    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fetch, targets.items()))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise aws_error(exc, f"cannot download from {url}") from None


def download_file(url: S3Url, path: Path, aws: AwsOptions) -> None:
    """Download exactly url's key to a local file."""
    import botocore.exceptions

    try:
        aws.client("s3").download_file(url.bucket, url.key, str(path))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise aws_error(exc, f"cannot download {url}") from None


def upload(
    path: Path, url: S3Url, aws: AwsOptions, on_progress: Callable[[int, int], None] | None = None
) -> None:
    """Upload a local file to exactly url's key (multipart for large files, via boto3's transfer);
    the bytes sent so far go to `on_progress` (done, total) as they go."""
    import botocore.exceptions

    callback = None
    if on_progress is not None:
        size, sent = path.stat().st_size, [0]
        lock = threading.Lock()

        def callback(chunk: int) -> None:  # boto3 calls it from its transfer threads
            with lock:
                sent[0] += chunk
                on_progress(sent[0], size)

    try:
        aws.client("s3").upload_file(str(path), url.bucket, url.key, Callback=callback)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise aws_error(exc, f"cannot upload to {url}") from None
