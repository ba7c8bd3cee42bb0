"""An import into Amazon Personalize as a plan: for the dataset CSVs, the uploads, the bucket policy
and role Personalize needs, the dataset group, a schema and a dataset each, and one import job each;
every step either reuses what the account holds (found by name) or is the one API call that makes
it, shown as the equivalent `aws` command. Building the plan calls nothing: it is given what the
account holds (`AccountState`) and decides."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.aws.cli_commands import aws_cli
from toolkit.aws.personalize import ACTIVE, CREATE_FAILED, IN_PROGRESS
from toolkit.aws.personalize_access import (
    ROLE_NAME,
    ROLE_POLICY_PREFIX,
    bucket_read_missing,
    read_policy,
    role_name,
    trust_policy,
    with_personalize_read,
)
from toolkit.errors import UsageError

DATASET_TYPES = {"interactions": "Interactions", "users": "Users", "items": "Items"}
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}")
MAX_NAME = 63
# The order steps run in; the steps of a stage wait for what the earlier stages made to be ACTIVE.
STAGES = ("access", "dataset group", "schemas", "datasets", "import jobs")


@dataclass(frozen=True)
class DatasetFile:
    """One dataset CSV to import, validated."""

    kind: str  # interactions, users, items
    source: str  # where it was given: a local path or an s3:// URL
    local: Path  # the local file validated (the CSV itself, or a download of it)
    data_location: str  # the S3 object Personalize imports
    schema: dict[str, Any]  # its Avro schema
    schema_source: str  # the .avsc it came from, or how it was made

    @property
    def dataset_type(self) -> str:
        return DATASET_TYPES[self.kind]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.kind,
            "source": self.source,
            "data_location": self.data_location,
            "schema": self.schema_source,
        }


@dataclass(frozen=True)
class Wait:
    """How to follow what a step made until it is ACTIVE or CREATE FAILED."""

    operation: str  # describe_dataset_group
    arn_param: str  # datasetGroupArn
    key: str  # datasetGroup


@dataclass
class Step:
    """One thing the import does, or finds done."""

    stage: str  # one of STAGES
    action: str  # upload, set, create, reuse, import
    what: str
    service: str = ""  # boto3's service name, "" for a step that calls nothing
    operation: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    arn: str = ""  # the ARN of what the step makes or finds
    wait: Wait | None = None
    command: str = ""  # the equivalent aws command, "" for a reuse

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "action": self.action,
            "what": self.what,
            "arn": self.arn,
            "command": self.command,
        }


@dataclass
class AccountState:
    """What the account holds that the import could reuse, as read before planning."""

    account: str
    region: str
    partition: str = "aws"
    dataset_group: dict[str, Any] | None = None  # describe_dataset_group's answer
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> describe_schema's
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> describe_dataset's
    jobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # kind -> import job summaries
    running: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> the job in progress
    bucket_policies: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # bucket -> policy
    role_found: str | None = None  # the ARN of the role named, or of the toolkit's role if it exists
    role_problems: list[str] = field(default_factory=list)  # why that role could not read the buckets

    def arn(self, kind: str, name: str) -> str:
        return f"arn:{self.partition}:personalize:{self.region}:{self.account}:{kind}/{name}"


@dataclass(frozen=True)
class ImportRequest:
    """What the caller asked for."""

    dataset_group: str
    role_arn: str | None = None
    create_role: bool = False
    incremental: bool = False
    cli: dict[str, str | None] = field(default_factory=dict)  # region, profile, endpoint_url for the commands


def check_name(name: str) -> str:
    """A dataset group name Personalize takes, with room for the schema and job names made from it."""
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME - len("-interactions"):
        raise UsageError(
            f"`dataset_group` {name!r} is not a Personalize name: letters, digits, - and _, starting with a "
            f"letter or digit, at most {MAX_NAME - len('-interactions')} characters",
            parameters=("dataset_group",),
        )
    return name


def upload_key(group: str, kind: str) -> str:
    """Where a local CSV goes in the bucket: a folder per dataset group, a file per dataset."""
    return f"{group}/{kind}.csv"


def resolve_domain(
    asked: str, detected: str | None, group: dict[str, Any] | None, *, interactions: bool = True
) -> str | None:
    """The domain to create in, as Personalize spells it (ECOMMERCE), or None. `asked` is auto (an
    existing group's domain, else the one the interactions CSV was written for: `detected`), ecommerce
    or none; an existing group's domain cannot change. `interactions`: whether an interactions CSV
    is imported (without one, nothing tells the domain but the group)."""
    if asked not in ("auto", "ecommerce", "none"):
        raise UsageError(f"`domain` must be auto, ecommerce or none, not {asked!r}", parameters=("domain",))
    wanted = (detected if asked == "auto" else None if asked == "none" else asked) or None
    if group is None:
        return wanted.upper() if wanted else None
    existing = group.get("domain") or None
    if asked != "auto" and (wanted.upper() if wanted else None) != existing:
        raise UsageError(
            f"dataset group {group['name']} exists "
            f"{'in the ' + existing + ' domain' if existing else 'with no domain'}; "
            f"a group's domain cannot change: import into another `dataset_group`",
            parameters=("dataset_group",),
        )
    if existing and interactions and detected is None:
        raise UsageError(
            f"dataset group {group['name']} is in the {existing} domain, but the interactions' "
            "EVENT_TYPE values "
            f"are not that domain's: transform with --domain {existing.lower()}, or import into another "
            "`dataset_group`",
            parameters=("dataset_group",),
        )
    return existing


def _failed(what: str, found: dict[str, Any], delete: str) -> UsageError:
    return UsageError(
        f"{what} exists but its creation failed ({found.get('failureReason') or 'no reason given'}); "
        f"delete it ({delete}) or import into another `dataset_group`",
        parameters=("dataset_group",),
    )


class _Planner:
    def __init__(self, request: ImportRequest, state: AccountState, domain: str | None, stamp: str):
        self.request, self.state, self.domain, self.stamp = request, state, domain, stamp
        self.group = check_name(request.dataset_group)
        self.steps: list[Step] = []

    def add(
        self, stage: str, action: str, what: str, service: str = "", operation: str = "", **rest: Any
    ) -> Step:
        params = rest.pop("params", {})
        step = Step(stage, action, what, service, operation, params, **rest)
        if service and action != "reuse":
            step.command = aws_cli(service, operation, params, **self.request.cli)
        self.steps.append(step)
        return step

    def uploads(self, files: list[DatasetFile]) -> None:
        for file in files:
            if not file.source.startswith("s3://"):
                bucket, _, key = file.data_location[5:].partition("/")
                self.add(
                    "access",
                    "upload",
                    f"{file.kind} CSV to {file.data_location}",
                    "s3",
                    "upload_file",
                    params={"Filename": str(file.local), "Bucket": bucket, "Key": key},
                )

    def bucket_policies(self) -> None:
        for bucket, policy in self.state.bucket_policies.items():
            if bucket_read_missing(policy, bucket):
                self.add(
                    "access",
                    "set",
                    f"bucket policy of s3://{bucket}: personalize.amazonaws.com may get and list its objects",
                    "s3",
                    "put_bucket_policy",
                    params={"Bucket": bucket, "Policy": json.dumps(with_personalize_read(policy, bucket))},
                )

    def role(self) -> str:
        """The role the import jobs name: given, found, or made; its steps added."""
        state, request = self.state, self.request
        buckets = list(state.bucket_policies)
        if request.role_arn:
            if state.role_problems:
                raise UsageError(
                    f"role {role_name(request.role_arn)} cannot be used: {'; '.join(state.role_problems)}; "
                    "fix it, or drop `role_arn` and use `create_role`",
                    parameters=("role_arn", "create_role"),
                )
            self.add("access", "reuse", f"role {request.role_arn}", arn=request.role_arn)
            return request.role_arn
        arn = f"arn:{state.partition}:iam::{state.account}:role/{ROLE_NAME}"
        if not request.create_role:
            if state.role_found and not state.role_problems:
                self.add("access", "reuse", f"role {state.role_found}", arn=state.role_found)
                return state.role_found
            why = "; ".join(state.role_problems) if state.role_found else f"no role {ROLE_NAME}"
            raise UsageError(
                f"no role Personalize can assume to read s3://{', s3://'.join(buckets)} ({why}): give "
                "`role_arn` "
                "(a role trusting personalize.amazonaws.com with s3:GetObject and s3:ListBucket), or "
                "`create_role`",
                parameters=("role_arn", "create_role"),
            )
        if not state.role_found:
            self.add(
                "access",
                "create",
                f"role {ROLE_NAME}, which personalize.amazonaws.com may assume",
                "iam",
                "create_role",
                params={"RoleName": ROLE_NAME, "AssumeRolePolicyDocument": json.dumps(trust_policy())},
                arn=arn,
            )
        if not state.role_found or state.role_problems:
            for bucket in buckets:
                self.add(
                    "access",
                    "set",
                    f"role {ROLE_NAME} reads s3://{bucket}",
                    "iam",
                    "put_role_policy",
                    params={
                        "RoleName": ROLE_NAME,
                        "PolicyName": f"{ROLE_POLICY_PREFIX}{bucket}",
                        "PolicyDocument": json.dumps(read_policy(bucket)),
                    },
                    arn=arn,
                )
        else:
            self.add("access", "reuse", f"role {arn}", arn=arn)
        return arn

    def _reuse_or_create(
        self, stage: str, what: str, found: dict[str, Any] | None, wait: Wait, **create: Any
    ) -> str:
        """The ARN of what the account holds (a reuse step, waited for while it is being made; one
        whose creation failed is refused), else of what the `create` step makes."""
        if found is None:
            step = self.add(stage, "create", what, "personalize", wait=wait, **create)
            return step.arn
        arn = str(found[wait.arn_param])
        if found.get("status") == CREATE_FAILED:
            kind = wait.operation.removeprefix("describe_").replace("_", "-")
            raise _failed(what, found, f"aws personalize delete-{kind} --{kind}-arn {arn}")
        in_progress = found.get("status") in IN_PROGRESS
        self.add(
            stage, "reuse", f"{what} ({found.get('status')})", arn=arn, wait=wait if in_progress else None
        )
        return arn

    def dataset_group(self) -> str:
        domain = f" in the {self.domain} domain" if self.domain else ""
        return self._reuse_or_create(
            "dataset group",
            f"dataset group {self.group}" + (domain if self.state.dataset_group is None else ""),
            self.state.dataset_group,
            Wait("describe_dataset_group", "datasetGroupArn", "datasetGroup"),
            operation="create_dataset_group",
            params={"name": self.group, **({"domain": self.domain} if self.domain else {})},
            arn=self.state.arn("dataset-group", self.group),
        )

    def schema(self, file: DatasetFile) -> str:
        name = f"{self.group}-{file.kind}"
        found = self.state.schemas.get(name)
        if found is None:
            params = {
                "name": name,
                "schema": json.dumps(file.schema),
                **({"domain": self.domain} if self.domain else {}),
            }
            arn = self.state.arn("schema", name)
            self.add(
                "schemas",
                "create",
                f"schema {name} ({file.schema_source})",
                "personalize",
                "create_schema",
                params=params,
                arn=arn,
            )
            return arn
        if json.loads(found["schema"]) != file.schema or (found.get("domain") or None) != self.domain:
            raise UsageError(
                f"schema {name} exists with other fields or another domain than {file.schema_source}, "
                "and a schema "
                f"cannot change: import into another `dataset_group` (or delete the schema: aws personalize "
                f"delete-schema --schema-arn {found['schemaArn']})",
                parameters=("dataset_group",),
            )
        self.add("schemas", "reuse", f"schema {name}", arn=found["schemaArn"])
        return str(found["schemaArn"])

    def dataset(self, file: DatasetFile, group_arn: str, schema: str) -> str:
        name = f"{self.group}-{file.kind}"
        found = self.state.datasets.get(file.kind)
        if found is not None and found.get("schemaArn") != schema:
            raise UsageError(
                f"the {file.dataset_type} dataset of {self.group} has another schema "
                f"({found.get('schemaArn')}) than {file.schema_source}: import into another `dataset_group`",
                parameters=("dataset_group",),
            )
        return self._reuse_or_create(
            "datasets",
            f"{file.dataset_type} dataset {name}",
            found,
            Wait("describe_dataset", "datasetArn", "dataset"),
            operation="create_dataset",
            params={
                "name": name,
                "schemaArn": schema,
                "datasetGroupArn": group_arn,
                "datasetType": file.dataset_type,
            },
            arn=self.state.arn("dataset", f"{self.group}/{file.dataset_type.upper()}"),
        )

    def import_job(self, file: DatasetFile, dataset: str, role: str) -> None:
        mode = "INCREMENTAL" if self.request.incremental else "FULL"
        wait = Wait("describe_dataset_import_job", "datasetImportJobArn", "datasetImportJob")
        running = self.state.running.get(file.kind)
        if running is not None:
            if (
                running.get("dataSource", {}).get("dataLocation") != file.data_location
                or running.get("importMode", "FULL") != mode
            ):
                raise UsageError(
                    f"import job {running['jobName']} into the {file.dataset_type} dataset is still "
                    f"{running['status']}, "
                    f"from {running.get('dataSource', {}).get('dataLocation')}: wait for it to end, "
                    "then import again"
                )
            self.add(
                "import jobs",
                "reuse",
                f"{mode} import job {running['jobName']} ({running['status']})",
                arn=running["datasetImportJobArn"],
                wait=wait,
            )
            return
        if mode == "INCREMENTAL" and not any(
            j.get("status") == ACTIVE for j in self.state.jobs.get(file.kind, [])
        ):
            raise UsageError(
                f"the {file.dataset_type} dataset of {self.group} has no finished import yet, and the "
                "first import "
                "must be FULL: drop `incremental`",
                parameters=("incremental",),
            )
        name = f"{self.group[: MAX_NAME - len(file.kind) - len(self.stamp) - 2]}-{file.kind}-{self.stamp}"
        self.add(
            "import jobs",
            "import",
            f"{mode} import of {file.data_location} into the {file.dataset_type} dataset",
            "personalize",
            "create_dataset_import_job",
            params={
                "jobName": name,
                "datasetArn": dataset,
                "dataSource": {"dataLocation": file.data_location},
                "roleArn": role,
                "importMode": mode,
            },
            arn=self.state.arn("dataset-import-job", name),
            wait=wait,
        )


def plan_import(
    files: list[DatasetFile], state: AccountState, request: ImportRequest, *, domain: str | None, stamp: str
) -> list[Step]:
    """The steps of the import, in the order they run (see STAGES). `domain` as resolve_domain gives
    it; `stamp` names this run's import jobs (e.g. 20261204T201500)."""
    planner = _Planner(request, state, domain, stamp)
    planner.uploads(files)
    planner.bucket_policies()
    role = planner.role()
    group = planner.dataset_group()
    schemas = [planner.schema(file) for file in files]
    datasets = [planner.dataset(file, group, schema) for file, schema in zip(files, schemas, strict=True)]
    for file, dataset in zip(files, datasets, strict=True):
        planner.import_job(file, dataset, role)
    return planner.steps
