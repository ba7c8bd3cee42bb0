"""`toolkit import`: dataset CSVs (a workshop folder, a transform's outputs, S3 objects) into
Amazon Personalize. Every CSV is validated first (an invalid one stops the import before any AWS
call); local files are uploaded; the dataset group, schemas and datasets are reused by name or
created; one import job each; then it waits, within a bounded total time, until each is ACTIVE or
CREATE FAILED. A dry run reads the account and returns the plan, creating nothing."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.exceptions
import duckdb

from toolkit.aws.personalize import ACTIVE, IN_PROGRESS, Backoff, Personalize, error_code
from toolkit.aws.personalize_access import ROLE_NAME, bucket_policy, find_role, role_name, role_problems
from toolkit.aws.s3 import AwsOptions, S3Url, aws_error, download_file, is_s3
from toolkit.errors import UsageError
from toolkit.personalize.domains import domain_written_for
from toolkit.personalize.import_plan import (
    STAGES,
    AccountState,
    DatasetFile,
    ImportRequest,
    Step,
    check_name,
    plan_import,
    resolve_domain,
    upload_key,
)
from toolkit.personalize.schema import schema_fields
from toolkit.personalize.validate import (
    ValidationReport,
    cross_dataset_checks,
    detect_dataset,
    read_header,
    schema_for_csv,
    validate_csv,
)

WAIT_SECONDS = 2 * 3600.0  # an import of a few million rows takes Personalize tens of minutes
POLL_SECONDS = 15.0
INFERRED = "inferred from the header"
DOMAIN_CHOICES = ("auto", "ecommerce", "none")
# Where a workshop folder (or a transform's --out folder) keeps each dataset, in the order looked at.
FOLDER_FILES = {
    "interactions": ("transformed/interactions.csv", "interactions.csv"),
    "users": ("users.csv",),
    "items": ("items.csv",),
}
FOLDER_SCHEMAS = {"interactions": "interactions.avsc"}  # beside transformed/, not in it

OnStatus = Callable[[str, str, float], None]  # (what, status, seconds waited so far)
STILL_SECONDS = 300.0  # an unchanged status is told again this often while it is waited for


@dataclass
class Status:
    """Where something the import made (or found being made) ended up."""

    what: str
    arn: str
    status: str  # ACTIVE, CREATE FAILED, or the last status seen when the wait ran out
    failure_reason: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "arn": self.arn,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "seconds": round(self.seconds, 1),
        }


@dataclass
class ImportResult:
    dataset_group: str
    dry_run: bool
    files: list[DatasetFile]
    validation: list[ValidationReport]
    domain: str | None = None
    steps: list[Step] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    waited_out: list[Status] = field(default_factory=list)  # still in progress when the wait ended
    wait_seconds: float = WAIT_SECONDS
    retries: int = 0  # calls made again while AWS throttled

    @property
    def valid(self) -> bool:
        return all(report.valid for report in self.validation)

    @property
    def failed(self) -> list[Status]:
        return [s for s in self.statuses if s.status != ACTIVE]

    @property
    def ok(self) -> bool:
        """Valid, and (unless a dry run) everything ACTIVE within the wait."""
        return self.valid and (self.dry_run or (not self.failed and not self.waited_out))

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset_group": self.dataset_group,
            "domain": self.domain,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "valid": self.valid,
            "datasets": [file.as_dict() for file in self.files],
            "validation": [report.as_dict() for report in self.validation],
            "steps": [step.as_dict() for step in self.steps],
            "statuses": [status.as_dict() for status in self.statuses],
            "waited_out": [status.as_dict() for status in self.waited_out],
            "wait_seconds": self.wait_seconds,
            "retries": self.retries,
        }


@dataclass(frozen=True)
class _Found:
    kind: str
    source: str
    local: Path
    schema: Path | None
    schema_source: str = ""  # where the schema came from, when not the local path


def _local_found(path: Path, kind: str | None = None, schema: Path | None = None) -> _Found:
    kind = kind or detect_dataset(read_header(path))
    beside = path.with_suffix(".avsc")
    return _Found(kind, str(path), path, schema or (beside if beside.is_file() else None))


def _in_folder(folder: Path) -> list[_Found]:
    found = []
    for kind, names in FOLDER_FILES.items():
        csv = next((folder / name for name in names if (folder / name).is_file()), None)
        if csv is not None:
            schema = folder / FOLDER_SCHEMAS.get(kind, "")
            found.append(
                _local_found(csv, kind, schema if kind in FOLDER_SCHEMAS and schema.is_file() else None)
            )
    if not found:
        raise UsageError(
            f"{folder} holds no dataset CSV (transformed/interactions.csv, users.csv, items.csv): "
            "give a workshop folder, the CSVs, or their s3:// URLs in `sources`",
            parameters=("sources",),
        )
    return found


def _from_s3(url: S3Url, aws: AwsOptions, work: Path) -> _Found:
    if not url.key or url.key.endswith("/"):
        raise UsageError(
            f"{url} is a folder: name the CSV object in `sources`, e.g. {url}interactions.csv",
            parameters=("sources",),
        )
    folder = work / str(len(list(work.iterdir())))
    folder.mkdir()
    local = folder / url.key.rsplit("/", 1)[-1]
    download_file(url, local, aws)
    schema = local.with_suffix(".avsc")
    schema_key = url.key.rsplit(".", 1)[0] + ".avsc"
    try:
        aws.client("s3").download_file(url.bucket, schema_key, str(schema))
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):  # none beside it: inferred
            raise aws_error(exc, f"cannot read s3://{url.bucket}/{schema_key}") from None
    found = _local_found(local, schema=schema if schema.is_file() else None)
    return _Found(found.kind, str(url), local, found.schema, f"s3://{url.bucket}/{schema_key}")


def find_dataset_files(sources: list[str], aws: AwsOptions, work: Path) -> list[_Found]:
    """Each dataset CSV the sources name (folders, files, s3:// objects, downloaded into `work`)."""
    found: list[_Found] = []
    for source in sources:
        if is_s3(source):
            found.append(_from_s3(S3Url.parse(source), aws, work))
        elif Path(source).is_dir():
            found += _in_folder(Path(source))
        elif Path(source).is_file():
            found.append(_local_found(Path(source)))
        else:
            raise UsageError(f"no such file or folder: {source} (in `sources`)", parameters=("sources",))
    kinds = [f.kind for f in found]
    for kind in set(kinds):
        if kinds.count(kind) > 1:
            raise UsageError(
                f"`sources` name {kinds.count(kind)} {kind} CSVs "
                f"({', '.join(f.source for f in found if f.kind == kind)}): give one",
                parameters=("sources",),
            )
    return sorted(found, key=lambda f: list(FOLDER_FILES).index(f.kind))


def _event_types(csv: Path) -> set[str]:
    if "EVENT_TYPE" not in read_header(csv):
        return set()
    with duckdb.connect() as connection:
        rows = connection.execute(
            "SELECT DISTINCT EVENT_TYPE FROM read_csv($path, header = true, all_varchar = true, "
            "ignore_errors = true, strict_mode = false) LIMIT 1000",
            {"path": str(csv)},
        ).fetchall()
    return {value for (value,) in rows if value}


def _schema(found: _Found) -> tuple[dict[str, Any], str]:
    if found.schema is None:
        return schema_for_csv(found.local, found.kind), INFERRED
    try:
        document = json.loads(found.schema.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"schema file {found.schema} is not JSON: {exc}") from None
    schema_fields(document)
    return document, found.schema_source or str(found.schema)


def _validate(found: list[_Found], domain: str | None) -> list[ValidationReport]:
    """Each CSV against Personalize's rules (and the domain's); the interactions' report also
    holds the rules across datasets."""
    reports = [validate_csv(f.local, f.schema, domain=domain, dataset=f.kind) for f in found]
    by_kind = {f.kind: f.local for f in found}
    if "interactions" in by_kind and len(found) > 1:
        reports[0].checks += cross_dataset_checks(
            by_kind["interactions"], by_kind.get("users"), by_kind.get("items")
        )
    for report, f in zip(reports, found, strict=True):
        report.path = f.source
    return reports


def _read_account(
    files: list[DatasetFile], request: ImportRequest, aws: AwsOptions, personalize: Personalize
) -> AccountState:
    identity = aws.client("sts").get_caller_identity()
    state = AccountState(
        identity["Account"], personalize.client.meta.region_name, identity["Arn"].split(":")[1]
    )
    state.dataset_group = personalize.find_dataset_group(request.dataset_group)
    state.schemas = personalize.schemas_named({f"{request.dataset_group}-{f.kind}" for f in files})
    if state.dataset_group is not None:
        datasets = personalize.datasets_of(state.dataset_group["datasetGroupArn"])
        for file in files:
            dataset = datasets.get(file.kind)
            if dataset is None:
                continue
            state.datasets[file.kind] = dataset
            state.jobs[file.kind] = personalize.import_jobs(dataset["datasetArn"])
            running = [j for j in state.jobs[file.kind] if j.get("status") in IN_PROGRESS]
            if running:
                state.running[file.kind] = personalize.describe_import_job(running[0]["datasetImportJobArn"])
    s3, iam = aws.client("s3"), aws.client("iam")
    buckets = sorted({S3Url.parse(f.data_location).bucket for f in files})
    state.bucket_policies = {bucket: bucket_policy(s3, bucket) for bucket in buckets}
    if request.role_arn:
        state.role_found = find_role(iam, role_name(request.role_arn))
        if state.role_found is None:
            raise UsageError(
                f"`role_arn` {request.role_arn}: no such role in account {state.account}",
                parameters=("role_arn",),
            )
    else:
        state.role_found = find_role(iam, ROLE_NAME)
    if state.role_found:
        state.role_problems = role_problems(iam, role_name(state.role_found), buckets)
    return state


def import_datasets(
    sources: list[str],
    *,
    dataset_group: str,
    bucket: str | None = None,
    role_arn: str | None = None,
    create_role: bool = False,
    incremental: bool = False,
    domain: str = "auto",
    dry_run: bool = False,
    confirm: Callable[[str], bool] | None = None,
    aws: AwsOptions | None = None,
    wait_seconds: float = WAIT_SECONDS,
    poll_seconds: float | None = None,
    on_status: OnStatus | None = None,
) -> ImportResult:
    """Import the dataset CSVs `sources` name into the dataset group (see the module's docstring).

    `domain`: auto (the group's, else the one the interactions CSV was written for), ecommerce or
    none. `confirm(question)` is asked before a bucket policy is changed (None: refuse, naming the
    command that would). Statuses are read every `poll_seconds` (default POLL_SECONDS). Returns
    what was validated, planned, and where each job ended."""
    check_name(dataset_group)
    if role_arn and create_role:
        raise UsageError("give `role_arn` or `create_role`, not both", parameters=("role_arn", "create_role"))
    if domain not in DOMAIN_CHOICES:
        raise UsageError(
            f"`domain` must be one of {', '.join(DOMAIN_CHOICES)}, not {domain!r}", parameters=("domain",)
        )
    aws = aws or AwsOptions()
    with tempfile.TemporaryDirectory(prefix="toolkit-import-") as work:
        found = find_dataset_files(sources, aws, Path(work))
        if any(not is_s3(f.source) for f in found) and not bucket:
            raise UsageError(
                "local CSVs are uploaded first: give the `bucket` to upload them to", parameters=("bucket",)
            )
        interactions = next((f for f in found if f.kind == "interactions"), None)
        detected = domain_written_for(_event_types(interactions.local)) if interactions else None
        reports = _validate(found, {"auto": detected, "none": None}.get(domain, domain))
        files = [
            DatasetFile(
                f.kind,
                f.source,
                f.local,
                f.source if is_s3(f.source) else f"s3://{bucket}/{upload_key(dataset_group, f.kind)}",
                *_schema(f),
            )
            for f in found
        ]
        result = ImportResult(dataset_group, dry_run, files, reports, wait_seconds=wait_seconds)
        if not result.valid:
            return result
        request = ImportRequest(
            dataset_group,
            role_arn,
            create_role,
            incremental,
            {"region": aws.region, "profile": aws.profile, "endpoint_url": aws.endpoint_url},
        )
        backoff = Backoff()
        personalize = Personalize(aws.client("personalize"), backoff)
        state = _read_account(files, request, aws, personalize)
        result.domain = resolve_domain(
            domain, detected, state.dataset_group, interactions=interactions is not None
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        result.steps = plan_import(files, state, request, domain=result.domain, stamp=stamp)
        result.retries = backoff.retries
        if dry_run:
            return result
        _confirm_bucket_policies(result.steps, confirm)
        clients = {"s3": aws.client("s3"), "iam": aws.client("iam"), "personalize": personalize.client}
        runner = _Runner(
            clients,
            backoff,
            time.monotonic() + wait_seconds,
            POLL_SECONDS if poll_seconds is None else poll_seconds,
            on_status,
        )
        runner.run(result.steps)
        result.statuses, result.waited_out = runner.statuses, runner.waited_out
        result.retries = backoff.retries
    return result


def _confirm_bucket_policies(steps: list[Step], confirm: Callable[[str], bool] | None) -> None:
    for step in steps:
        if step.operation != "put_bucket_policy":
            continue
        bucket = step.params["Bucket"]
        question = (
            f"s3://{bucket}'s policy does not let personalize.amazonaws.com read it; add that statement?"
        )
        if confirm is None or not confirm(question):
            raise UsageError(
                f"Personalize cannot read s3://{bucket}: its bucket policy must let "
                "personalize.amazonaws.com "
                f"s3:GetObject and s3:ListBucket; set it (`confirm`), or run: {step.command}",
                parameters=("confirm",),
            )


class _Runner:
    """Runs the steps stage by stage, waiting between stages for what was made to be ACTIVE."""

    def __init__(
        self,
        clients: dict[str, Any],
        backoff: Backoff,
        deadline: float,
        poll_seconds: float,
        on_status: OnStatus | None,
    ):
        self.clients, self.backoff, self.deadline, self.poll = clients, backoff, deadline, poll_seconds
        self.on_status = on_status or (lambda what, status, seconds: None)
        self.made: dict[str, str] = {}  # an ARN the plan expected -> the one AWS answered, where they differ
        self.statuses: list[Status] = []
        self.waited_out: list[Status] = []

    def run(self, steps: list[Step]) -> None:
        for stage in STAGES:
            pending = []
            for step in (s for s in steps if s.stage == stage):
                if step.action != "reuse":
                    self.on_status(step.what, "starting", 0.0)
                    response = self.backoff.call(
                        getattr(self.clients[step.service], step.operation), **self._params(step.params)
                    )
                    answered = _arn_in(response)
                    if answered and step.arn and answered != step.arn:
                        self.made[step.arn] = answered
                if step.wait is not None:
                    pending.append(step)
            self._wait(pending)
            if self.waited_out or any(s.status != ACTIVE for s in self.statuses):
                return  # later stages need what did not come

    def _params(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            key: self.made.get(value, value) if isinstance(value, str) else value
            for key, value in params.items()
        }

    def _wait(self, pending: list[Step]) -> None:
        began = time.monotonic()
        seen: dict[str, str] = {}  # ARN -> the last status read
        told: dict[str, float] = {}  # ARN -> when on_status last heard of it
        while pending:
            for step in list(pending):
                assert step.wait is not None
                arn = self.made.get(step.arn, step.arn)
                found = self.backoff.call(
                    getattr(self.clients["personalize"], step.wait.operation), **{step.wait.arn_param: arn}
                )[step.wait.key]
                status, seconds = found.get("status", ""), time.monotonic() - began
                if seen.get(arn) != status or seconds - told.get(arn, 0.0) >= STILL_SECONDS:
                    seen[arn], told[arn] = status, seconds
                    self.on_status(step.what, status, seconds)
                if status not in IN_PROGRESS:
                    self.statuses.append(Status(step.what, arn, status, found.get("failureReason"), seconds))
                    pending.remove(step)
            if pending and time.monotonic() + self.poll > self.deadline:
                self.waited_out = [
                    Status(
                        s.what,
                        self.made.get(s.arn, s.arn),
                        seen.get(self.made.get(s.arn, s.arn), ""),
                        None,
                        time.monotonic() - began,
                    )
                    for s in pending
                ]
                return
            if pending:
                time.sleep(self.poll)


def _arn_in(response: dict[str, Any]) -> str | None:
    """The ARN a create call answers with (datasetGroupArn, schemaArn, ..., IAM's Role.Arn)."""
    for key, value in response.items():
        if key.endswith("Arn") and isinstance(value, str):
            return value
    role = response.get("Role")
    return str(role["Arn"]) if isinstance(role, dict) else None
