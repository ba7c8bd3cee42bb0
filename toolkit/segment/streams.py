"""What Segment's two streaming destinations (Kinesis, Firehose) share: records buffered per
stream into batches within the service's limits, sent, and what was throttled or failed sent
again with exponential backoff, so that nothing is lost and every retry is counted.

A service is a `StreamApi`: it sends one batch and says which of its records failed. A batch is
never bigger than the API allows (records, bytes); a record that alone is over the limit is
counted as not sent. A batch still not taken after MAX_ATTEMPTS or RETRY_SECONDS (whichever
comes first) raises StreamError: the caller
keeps the messages (the collector's journal) or stops (generate), never drops them silently.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from toolkit.aws.s3 import AwsOptions
from toolkit.errors import UsageError
from toolkit.segment.destination import DeliveryCounts

MAX_ATTEMPTS = 12  # a batch's calls at most...
RETRY_SECONDS = 30.0  # ...and the time they may take, waits included
FIRST_BACKOFF, MAX_BACKOFF = 0.05, 8.0  # seconds
CONNECT_TIMEOUT, READ_TIMEOUT = 5, 30  # seconds, every call


class StreamError(UsageError):
    """A batch the service kept refusing (the messages are not delivered): one line, as any
    failure of AWS or the network."""


@dataclass(frozen=True)
class Record:
    data: bytes
    key: str = ""  # Kinesis' partition key; Firehose has none

    @property
    def size(self) -> int:
        return len(self.data) + len(self.key.encode())


@dataclass(frozen=True)
class Limits:
    records: int  # a request's records
    request_bytes: int  # a request's bytes, data and keys
    record_bytes: int  # one record's


class StreamApi(Protocol):
    limits: Limits

    def send(self, client: Any, stream: str, records: Sequence[Record]) -> list[str | None]:
        """Send one batch; each record's error code (throttled, failed), or None where it was taken.
        Raises botocore's ClientError for the whole call."""
        ...


# Error codes (of a record, or of a whole call) that are worth sending again
RETRIABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
    "KMSThrottlingException",
    "LimitExceededException",
    "SlowDown",
}


def client_for(aws: AwsOptions, service: str) -> Any:
    """A client with timeouts on every call and botocore's own retries off: this module retries
    (and counts) throttled calls and failed records itself."""
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"total_max_attempts": 1},
        max_pool_connections=4,
    )
    return aws.client(service, config)


class StreamBatcher:
    """Records buffered per stream and sent in batches, with retries; counts what it did."""

    def __init__(self, api: StreamApi, aws: AwsOptions, service: str, label: str):
        self.api, self.aws, self.service, self.label = api, aws, service, label
        self.counts = DeliveryCounts()
        self._pending: dict[str, list[Record]] = defaultdict(list)
        self._pending_bytes: dict[str, int] = defaultdict(int)
        self._client: Any = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_client": None}  # clients do not cross processes

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client_for(self.aws, self.service)
        return self._client

    def add(self, stream: str, record: Record) -> None:
        limits = self.api.limits
        if record.size > limits.record_bytes:
            self.counts.not_sent[f"over the {limits.record_bytes // 1024} KiB a record can have"] += 1
            return
        if (
            len(self._pending[stream]) == limits.records
            or self._pending_bytes[stream] + record.size > limits.request_bytes
        ):
            self._send(stream)
        self._pending[stream].append(record)
        self._pending_bytes[stream] += record.size

    def flush(self) -> None:
        for stream in list(self._pending):
            if self._pending[stream]:
                self._send(stream)

    def _send(self, stream: str) -> None:
        import botocore.exceptions

        records = self._pending.pop(stream)
        self._pending_bytes.pop(stream, None)
        deadline = time.monotonic() + RETRY_SECONDS
        attempts = 0
        for attempt in range(MAX_ATTEMPTS):
            if attempt and time.monotonic() >= deadline:
                break
            attempts += 1
            if attempt:
                time.sleep(random.uniform(0.5, 1.0) * min(MAX_BACKOFF, FIRST_BACKOFF * 2**attempt))
                self.counts.retries += len(records)
            self.counts.requests += 1
            try:
                errors = self.api.send(self.client, stream, records)
            except botocore.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code not in RETRIABLE:
                    raise StreamError(f"{self.label} {stream}: {code}: {_message(exc)}") from None
                last = code
                continue
            except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
                last = type(exc).__name__
                continue
            except botocore.exceptions.BotoCoreError as exc:  # credentials, configuration
                raise StreamError(f"{self.label} {stream}: {exc}") from None
            failed = [record for record, error in zip(records, errors, strict=True) if error]
            self.counts.delivered += len(records) - len(failed)
            codes = {error for error in errors if error}
            if codes - RETRIABLE:
                raise StreamError(
                    f"{self.label} {stream}: {len(failed)} records refused ({', '.join(sorted(codes))})"
                )
            if not failed:
                return
            records, last = failed, ", ".join(sorted(codes))
        raise StreamError(
            f"{self.label} {stream}: {len(records)} records still not taken after {attempts} "
            f"attempts within {RETRY_SECONDS:g} s ({last})"
        )


def _message(exc: Any) -> str:
    return " ".join(str(exc.response.get("Error", {}).get("Message", exc)).split())[:200]
