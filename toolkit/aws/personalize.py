"""Amazon Personalize with boto3: find or create by name (dataset groups, schemas, datasets), import
jobs and their status, and PutEvents; every call retried with backoff while the service throttles."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions

# Error codes AWS gives a caller that should slow down and try again.
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"}
)
IN_PROGRESS = ("CREATE PENDING", "CREATE IN_PROGRESS")
ACTIVE = "ACTIVE"
CREATE_FAILED = "CREATE FAILED"


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError, else None."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return None


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES


@dataclass
class Backoff:
    """Calls again, after a jittered exponential pause, while AWS answers with throttling; counts
    the retries (its own, and those botocore made before giving up or succeeding)."""

    attempts: int = 8
    base_seconds: float = 0.5
    max_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    retries: int = 0

    def call(self, operation: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
        for attempt in range(self.attempts):
            try:
                response = operation(**params) or {}  # a transfer (upload_file) answers None
            except botocore.exceptions.ClientError as exc:
                if not is_throttling(exc) or attempt == self.attempts - 1:
                    raise
                self.retries += 1
                self.sleep(random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt)))
                continue
            self.retries += int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")


@dataclass
class Personalize:
    """The reads an import makes of what the account holds, on one boto3 client (the calls that
    create are the plan's steps, made with the same Backoff)."""

    client: Any
    backoff: Backoff = field(default_factory=Backoff)

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            page = self.backoff.call(
                getattr(self.client, operation), **params, **({"nextToken": token} if token else {})
            )
            yield from page.get(key, [])
            token = page.get("nextToken")
            if not token:
                return

    def find_dataset_group(self, name: str) -> dict[str, Any] | None:
        """The dataset group of that name (describe_dataset_group's answer), or None."""
        for group in self._pages("list_dataset_groups", "datasetGroups"):
            if group["name"] == name:
                return self.describe_dataset_group(group["datasetGroupArn"])
        return None

    def describe_dataset_group(self, arn: str) -> dict[str, Any]:
        return dict(
            self.backoff.call(self.client.describe_dataset_group, datasetGroupArn=arn)["datasetGroup"]
        )

    def schemas_named(self, names: set[str]) -> dict[str, dict[str, Any]]:
        """The schemas of those names (describe_schema's answers, the Avro text in `schema`)."""
        return {
            schema["name"]: dict(
                self.backoff.call(self.client.describe_schema, schemaArn=schema["schemaArn"])["schema"]
            )
            for schema in self._pages("list_schemas", "schemas")
            if schema["name"] in names
        }

    def datasets_of(self, group_arn: str) -> dict[str, dict[str, Any]]:
        """The group's datasets by type in lower case (describe_dataset's answers, with schemaArn)."""
        return {
            dataset["datasetType"].lower(): self.describe_dataset(dataset["datasetArn"])
            for dataset in self._pages("list_datasets", "datasets", datasetGroupArn=group_arn)
        }

    def describe_dataset(self, arn: str) -> dict[str, Any]:
        return dict(self.backoff.call(self.client.describe_dataset, datasetArn=arn)["dataset"])

    def import_jobs(self, dataset: str) -> list[dict[str, Any]]:
        """The dataset's import jobs (summaries: name, ARN, status, mode)."""
        return list(self._pages("list_dataset_import_jobs", "datasetImportJobs", datasetArn=dataset))

    def describe_import_job(self, arn: str) -> dict[str, Any]:
        return dict(
            self.backoff.call(self.client.describe_dataset_import_job, datasetImportJobArn=arn)[
                "datasetImportJob"
            ]
        )
