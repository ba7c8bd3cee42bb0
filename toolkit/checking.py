"""`toolkit check`: is a workshop account ready for Exercise 1? One line per requirement, with a fix."""

from __future__ import annotations

import base64
import csv
import gzip
import json
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from toolkit.aws.personalize import ACTIVE, IN_PROGRESS, Personalize
from toolkit.aws.personalize_access import (
    ROLE_NAME,
    SERVICE,
    bucket_policy,
    bucket_read_missing,
    find_role,
    role_name,
    role_problems,
)
from toolkit.aws.policies import allowed, role_statements, trusts
from toolkit.aws.s3 import S3Url, profile_not_found
from toolkit.errors import UsageError
from toolkit.personalize.validate import validate_csv
from toolkit.segment.layout import KEY_PATTERN
from toolkit.segment.send import shown_url
from toolkit.simulate.scenario_toml import load_scenario

BUCKET_PREFIX = "personalize-data-"
DEFAULT_REGION = "us-east-1"  # the workshop's region
ROLE_PREFIX = "module-personalize-GlueServiceRole-"
CHECKED_SOURCES = (
    "web",
    "android",
    "ios",
    "personas",
)  # the workshop's Segment sources an account needs (email is the tool's own)
DEFAULT_SOURCE = "s3://segment-personalize-workshop/segment-logs/"
AWS_ERRORS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


@dataclass
class CheckLine:
    name: str
    status: str  # pass, fail, warn
    detail: str
    fix: str = ""


@dataclass
class AccountCheck:
    account: str
    account_id: str = ""
    lines: list[CheckLine] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    would_create: list[str] = field(default_factory=list)  # a dry run of --fix

    @property
    def passed(self) -> bool:
        return all(line.status != "fail" for line in self.lines)

    def as_dict(self) -> dict:
        return {
            "account": self.account,
            "account_id": self.account_id,
            "passed": self.passed,
            "lines": [asdict(line) for line in self.lines],
            "created": self.created,
            "would_create": self.would_create,
        }


@dataclass(kw_only=True)
class CheckOptions:
    region: str | None = None  # None: the profile's, as boto3 resolves it, else DEFAULT_REGION
    endpoint_url: str | None = None
    source: str = DEFAULT_SOURCE
    database: str = "segment"
    athena_output: str | None = None
    write_keys: dict[str, str] = field(default_factory=dict)
    host: str = "https://api.segment.io"
    skip_segment: bool = False
    fix: bool = False
    dry_run: bool = False  # with `fix`: say what would be created, create nothing
    personalize_role: str | None = None  # the role import jobs use (default: found by name)
    dataset_group: str | None = None  # a dataset group that must exist, ACTIVE


def _error_text(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return str(exc)


class AccountChecker:
    def __init__(self, session: boto3.Session, name: str, options: CheckOptions):
        self.session, self.options = session, options
        self.result = AccountCheck(name)
        self.bucket: str | None = None
        self.region: str = options.region or session.region_name or DEFAULT_REGION

    def client(self, service: str):
        return self.session.client(service, region_name=self.region, endpoint_url=self.options.endpoint_url)

    def create(self, what: str, action: Callable[[], object]) -> None:
        """Create `what` with `action` (or, on a dry run, only say that it would be)."""
        if self.options.dry_run:
            self.result.would_create.append(what)
            return
        action()
        self.result.created.append(what)

    def add(self, name: str, status: str, detail: str, fix: str = "") -> None:
        self.result.lines.append(CheckLine(name, status, detail, fix))

    def run(self) -> AccountCheck:
        self.check_region()
        if self.check_identity():
            for step in (
                self.check_bucket,
                self.check_glue_role,
                self.check_source_logs,
                self.check_athena,
                self.check_transformed,
                self.check_personalize,
            ):
                try:
                    step()
                except AWS_ERRORS as exc:
                    self.add(
                        step.__name__.replace("check_", "").replace("_", " "),
                        "fail",
                        _error_text(exc),
                        "check the credentials' permissions",
                    )
        if not self.options.skip_segment:
            self.check_segment()
        return self.result

    def check_region(self) -> None:
        regions = boto3.Session().get_available_regions("personalize")
        if self.region in regions:
            self.add("region", "pass", self.region)
        else:
            self.add(
                "region",
                "fail",
                f"Amazon Personalize is not offered in {self.region}",
                "use --region us-east-1 (the workshop's region)",
            )

    def check_identity(self) -> bool:
        try:
            identity = self.client("sts").get_caller_identity()
        except AWS_ERRORS as exc:
            self.add(
                "credentials",
                "fail",
                _error_text(exc),
                "configure credentials for this account (profile or role ARN)",
            )
            return False
        self.result.account_id = identity["Account"]
        self.add("credentials", "pass", identity["Arn"])
        return True

    def check_bucket(self) -> None:
        s3 = self.client("s3")
        names = sorted(
            b["Name"] for b in s3.list_buckets().get("Buckets", []) if b["Name"].startswith(BUCKET_PREFIX)
        )
        if not names and self.options.fix:
            name = f"{BUCKET_PREFIX}{self.result.account_id}-{self.region}"
            config = (
                {}
                if self.region == "us-east-1"
                else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            self.create(f"s3://{name}/", lambda: s3.create_bucket(Bucket=name, **config))
            self.create(f"s3://{name}/transformed/", lambda: s3.put_object(Bucket=name, Key="transformed/"))
            if self.options.dry_run:
                self.add(
                    "data bucket", "fail", f"no bucket named {BUCKET_PREFIX}*", f"--fix creates s3://{name}/"
                )
                return
            names = [name]
        if not names:
            self.add(
                "data bucket",
                "fail",
                f"no bucket named {BUCKET_PREFIX}*",
                f"create one (e.g. {BUCKET_PREFIX}{self.result.account_id}) or run toolkit check --fix",
            )
            return
        self.bucket = names[0]
        probe = f".toolkit-check-{uuid.uuid4().hex}"
        try:
            s3.put_object(Bucket=self.bucket, Key=probe, Body=b"probe")
            s3.delete_object(Bucket=self.bucket, Key=probe)
        except AWS_ERRORS as exc:
            self.add(
                "data bucket",
                "fail",
                f"s3://{self.bucket}/ is not writable: {_error_text(exc)}",
                "grant s3:PutObject and s3:DeleteObject on it",
            )
            return
        self.add(
            "data bucket",
            "pass",
            f"s3://{self.bucket}/ exists and is writable"
            + (f" ({len(names)} candidates)" if len(names) > 1 else ""),
        )

    def check_glue_role(self) -> None:
        iam = self.client("iam")
        roles = [
            r
            for page in iam.get_paginator("list_roles").paginate()
            for r in page["Roles"]
            if r["RoleName"].startswith(ROLE_PREFIX)
        ]
        if not roles:
            self.add(
                "Glue role",
                "fail",
                f"no IAM role named {ROLE_PREFIX}*",
                "deploy the workshop's CloudFormation stack (the toolkit never creates IAM roles)",
            )
            return
        role = roles[0]
        if not trusts(role["AssumeRolePolicyDocument"], "glue.amazonaws.com"):
            self.add(
                "Glue role",
                "fail",
                f"{role['RoleName']} does not trust glue.amazonaws.com",
                "add glue.amazonaws.com to its trust policy",
            )
            return
        statements = role_statements(iam, role["RoleName"])
        source = S3Url.parse(self.options.source)
        needs = [
            ("s3:ListBucket", f"arn:aws:s3:::{source.bucket}"),
            ("s3:GetObject", f"arn:aws:s3:::{source.bucket}/{source.key}x.gz"),
        ]
        if self.bucket:
            needs.append(("s3:PutObject", f"arn:aws:s3:::{self.bucket}/transformed/interactions.csv"))
        missing = [
            f"{action} on {resource}"
            for action, resource in needs
            if not allowed(statements, action, resource)
        ]
        if missing:
            self.add(
                "Glue role",
                "fail",
                f"{role['RoleName']} lacks {'; '.join(missing)}",
                "attach a policy granting these (read the source logs, write transformed/)",
            )
        else:
            self.add(
                "Glue role",
                "pass",
                f"{role['RoleName']} trusts Glue, reads the source logs and writes the data bucket",
            )

    def check_source_logs(self) -> None:
        source = S3Url.parse(self.options.source)
        s3 = self.client("s3")
        try:
            listing = s3.list_objects_v2(Bucket=source.bucket, Prefix=source.key, MaxKeys=1000)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchBucket":
                self.add(
                    "source logs",
                    "fail",
                    f"the bucket {source.bucket} does not exist",
                    "point --source at the bucket the Segment S3 destination writes to "
                    f"(not {source.bucket}), as s3://BUCKET/segment-logs/",
                )
                return
            if code in ("AccessDenied", "AllAccessDisabled"):
                self.add(
                    "source logs",
                    "fail",
                    f"these credentials may not list s3://{source.bucket}/",
                    f"grant s3:ListBucket on arn:aws:s3:::{source.bucket} and s3:GetObject on "
                    f"arn:aws:s3:::{source.bucket}/{source.key}*",
                )
                return
            raise
        logs = [
            o["Key"] for o in listing.get("Contents", []) if KEY_PATTERN.search(o["Key"]) and o["Size"] > 0
        ]
        if not logs:
            self.add(
                "source logs",
                "fail",
                f"no Segment log files under {source}",
                "point --source at s3://bucket/prefix/segment-logs/ holding <source-id>/<day>/<file>.gz",
            )
            return
        body = s3.get_object(Bucket=source.bucket, Key=logs[0])["Body"].read()
        try:
            first = json.loads(gzip.decompress(body).split(b"\n", 1)[0])
            assert isinstance(first, dict) and "type" in first and "messageId" in first
        except (OSError, ValueError, AssertionError):
            self.add(
                "source logs",
                "fail",
                f"s3://{source.bucket}/{logs[0]} does not hold Segment messages",
                "check the Segment S3 destination's bucket and prefix",
            )
            return
        self.add(
            "source logs",
            "pass",
            f"{len(logs)}{'+' if listing.get('IsTruncated') else ''} log files under {source}; the first "
            "holds Segment messages",
        )

    def check_athena(self) -> None:
        glue = self.client("glue")
        try:
            glue.get_database(Name=self.options.database)
            self.add("Athena database", "pass", self.options.database)
        except botocore.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "EntityNotFoundException":
                raise
            if self.options.fix:
                self.create(
                    f"Athena database {self.options.database}",
                    lambda: glue.create_database(DatabaseInput={"Name": self.options.database}),
                )
                if self.options.dry_run:
                    self.add(
                        "Athena database",
                        "fail",
                        f"no database {self.options.database!r}",
                        f"--fix creates {self.options.database}",
                    )
                else:
                    self.add("Athena database", "pass", f"{self.options.database} (created)")
            else:
                self.add(
                    "Athena database",
                    "fail",
                    f"no database {self.options.database!r}",
                    f"run CREATE DATABASE {self.options.database} in Athena, or toolkit check --fix",
                )
        output = self.options.athena_output or (
            f"s3://{self.bucket}/athena-results/" if self.bucket else None
        )
        if output is None:
            self.add(
                "Athena results",
                "fail",
                "no results location",
                "give --athena-output s3://bucket/athena-results/",
            )
            return
        url = S3Url.parse(output)
        key = f"{url.key}.toolkit-check-{uuid.uuid4().hex}"
        s3 = self.client("s3")
        s3.put_object(Bucket=url.bucket, Key=key, Body=b"probe")
        s3.delete_object(Bucket=url.bucket, Key=key)
        if (
            self.options.fix
            and url.key
            and not s3.list_objects_v2(Bucket=url.bucket, Prefix=url.key, MaxKeys=1).get("KeyCount")
        ):
            self.create(output, lambda: s3.put_object(Bucket=url.bucket, Key=url.key))
        self.add("Athena results", "pass", f"{output} is writable")

    def check_transformed(self) -> None:
        if not self.bucket:
            return
        s3 = self.client("s3")
        csvs = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=self.bucket, Prefix="transformed/").get("Contents", [])
            if o["Key"].endswith(".csv")
        ]
        if not csvs:
            self.add(
                "transformed CSV",
                "warn",
                f"no CSV in s3://{self.bucket}/transformed/ yet",
                "run the Glue job or toolkit transform --out s3://.../transformed/",
            )
            return
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "interactions.csv"
            s3.download_file(self.bucket, csvs[0], str(local))
            report = validate_csv(local)
        failed = [c.rule for c in report.checks if c.status == "fail"]
        if failed:
            self.add(
                "transformed CSV",
                "fail",
                f"s3://{self.bucket}/{csvs[0]} fails: {', '.join(failed)}",
                "see toolkit validate for the offending rows",
            )
        else:
            self.add(
                "transformed CSV",
                "pass",
                f"s3://{self.bucket}/{csvs[0]}: {report.rows:,} rows pass Personalize's rules",
            )

    def check_personalize(self) -> None:
        """What `toolkit import` needs: see personalize_lines."""
        self.result.lines += personalize_lines(
            self.client, self.bucket, self.options.personalize_role, self.options.dataset_group
        )

    def check_segment(self) -> None:
        sources = load_scenario("workshop").sources
        for key, name in ((key, sources[key].name) for key in CHECKED_SOURCES):
            write_key = self.options.write_keys.get(key)
            if not write_key:
                self.add(
                    f"Segment {name}",
                    "fail",
                    "no write key configured",
                    f"--write-key {key}=... or SEGMENT_WRITE_KEY_{key.upper()}",
                )
                continue
            status = _probe(self.options.host, write_key)
            if status == 200:
                self.add(
                    f"Segment {name}",
                    "pass",
                    f"a probe message was accepted by {shown_url(self.options.host)}",
                )
            else:
                self.add(
                    f"Segment {name}",
                    "fail",
                    f"{shown_url(self.options.host)} answered {status} to a probe message",
                    "copy the source's write key from Segment's source settings",
                )


def _probe(host: str, write_key: str) -> int | str:
    """POST one tiny track call, sent to no destination (integrations All: false)."""
    body = json.dumps(
        {"event": "Toolkit Check Probe", "anonymousId": "toolkit-check", "integrations": {"All": False}}
    ).encode()
    request = urllib.request.Request(
        host.rstrip("/") + "/v1/track",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError) as exc:
        return f"no answer ({getattr(exc, 'reason', exc)})"


def session_for(profile_or_role: str | None, region: str | None, endpoint_url: str | None) -> boto3.Session:
    """A session from a profile name, a role ARN (assumed with the default credentials), or the
    default chain."""
    if profile_or_role and profile_or_role.startswith("arn:"):
        sts = boto3.client("sts", region_name=region or DEFAULT_REGION, endpoint_url=endpoint_url)
        credentials = sts.assume_role(RoleArn=profile_or_role, RoleSessionName="toolkit-check")["Credentials"]
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )
    try:
        return boto3.Session(profile_name=profile_or_role, region_name=region)
    except botocore.exceptions.ProfileNotFound:
        raise UsageError(profile_not_found(profile_or_role), parameters=("profile",)) from None


def check_account(profile_or_role: str | None, name: str, options: CheckOptions) -> AccountCheck:
    try:
        session = session_for(profile_or_role, options.region, options.endpoint_url)
    except AWS_ERRORS as exc:
        result = AccountCheck(name)
        result.lines.append(
            CheckLine(
                "credentials",
                "fail",
                _error_text(exc),
                "check the role ARN and that the default credentials may assume it",
            )
        )
        return result
    return AccountChecker(session, name, options).run()


def read_accounts(path: str) -> list[tuple[str, str]]:
    """(profile or role ARN, name) per row of a CSV; the name defaults to the first column."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"accounts file not found: {path}")
    rows = []
    with open(file, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            cells = [cell.strip() for cell in row]
            if (
                not cells
                or not cells[0]
                or cells[0].startswith("#")
                or (number == 1 and cells[0].lower() in ("profile", "role", "account", "profile_or_role_arn"))
            ):
                continue
            rows.append((cells[0], cells[1] if len(cells) > 1 and cells[1] else cells[0]))
    if not rows:
        raise UsageError(f"{path} lists no accounts (rows: profile or role ARN, optional name)")
    return rows


def check_accounts(
    accounts: list[tuple[str, str]], options: CheckOptions, threads: int = 8
) -> list[AccountCheck]:
    """Check every account concurrently; failing accounts first. An account that cannot be
    reached at all (an unknown profile) is a failed row; the others are checked all the same."""

    def one(account: tuple[str, str]) -> AccountCheck:
        try:
            return check_account(account[0], account[1], options)
        except UsageError as exc:
            return AccountCheck(
                account[1],
                lines=[CheckLine("credentials", "fail", str(exc), "correct the row in the accounts file")],
            )

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, accounts))
    return sorted(results, key=lambda r: (r.passed, r.account))


PERSONALIZE_ROLE_PREFIXES = (ROLE_NAME, "module-personalize-PersonalizeServiceRole-")  # toolkit's, workshop's


def personalize_lines(
    client: Callable[[str], Any], bucket: str | None, role_arn: str | None, dataset_group: str | None
) -> list[CheckLine]:
    """Can Personalize import from the data bucket? Its bucket policy, the role import jobs use (its
    trust and its S3 read), and the dataset group if one is named; a line each, with its fix."""
    lines = [_bucket_policy_line(client("s3"), bucket)] if bucket else []
    lines.append(_personalize_role_line(client("iam"), bucket, role_arn))
    if dataset_group:
        lines.append(dataset_group_line(client("personalize"), dataset_group))
    return lines


def _bucket_policy_line(s3: Any, bucket: str) -> CheckLine:
    missing = bucket_read_missing(bucket_policy(s3, bucket), bucket)
    if not missing:
        return CheckLine("Personalize bucket policy", "pass", f"{SERVICE} may get and list s3://{bucket}/")
    return CheckLine(
        "Personalize bucket policy",
        "fail",
        f"s3://{bucket}/'s policy does not allow {SERVICE} {'; '.join(missing)}",
        f"toolkit import ... --bucket {bucket} --set-bucket-policy adds the statement (Principal {SERVICE}, "
        f"s3:GetObject and s3:ListBucket on arn:aws:s3:::{bucket} and arn:aws:s3:::{bucket}/*)",
    )


def _personalize_role_line(iam: Any, bucket: str | None, role_arn: str | None) -> CheckLine:
    name = role_name(role_arn) if role_arn else None
    if name is None:
        names = [
            r["RoleName"]
            for page in iam.get_paginator("list_roles").paginate()
            for r in page["Roles"]
            if r["RoleName"].startswith(PERSONALIZE_ROLE_PREFIXES)
        ]
        name = names[0] if names else None
    if name is None or find_role(iam, name) is None:
        return CheckLine(
            "Personalize role",
            "fail",
            f"no role {name}"
            if name
            else f"no role named {' or '.join(p + '*' for p in PERSONALIZE_ROLE_PREFIXES)}",
            "toolkit import ... --create-role creates one, or give --personalize-role ARN",
        )
    problems = role_problems(iam, name, [bucket] if bucket else [])
    if problems:
        return CheckLine(
            "Personalize role",
            "fail",
            "; ".join(problems),
            f"let it trust {SERVICE} and allow s3:GetObject and s3:ListBucket on the data bucket "
            f"(toolkit import ... --create-role does it for {ROLE_NAME})",
        )
    reads = f" and reads s3://{bucket}/" if bucket else ""
    return CheckLine("Personalize role", "pass", f"{name} trusts {SERVICE}{reads}")


def dataset_group_line(personalize: Any, name: str) -> CheckLine:
    """The named dataset group: ACTIVE passes; missing, failed or still being made does not."""
    found = Personalize(personalize).find_dataset_group(name)
    if found is None:
        return CheckLine(
            "dataset group",
            "fail",
            f"no dataset group {name}",
            f"toolkit import ... --dataset-group {name} creates it",
        )
    domain = f" (domain {found['domain']})" if found.get("domain") else ""
    if found.get("status") == ACTIVE:
        return CheckLine("dataset group", "pass", f"{name} is ACTIVE{domain}")
    if found.get("status") in IN_PROGRESS:
        return CheckLine(
            "dataset group", "warn", f"{name} is {found['status']}{domain}", "wait a minute and check again"
        )
    return CheckLine(
        "dataset group",
        "fail",
        f"{name} is {found.get('status')}: {found.get('failureReason') or 'no reason given'}",
        "delete it (aws personalize delete-dataset-group --dataset-group-arn "
        f"{found['datasetGroupArn']}) and import again",
    )
