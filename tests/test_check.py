"""`toolkit check` against moto's server: provisioned accounts pass, each broken resource fails its line."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from tests.helpers import RunningCollector
from toolkit.checking import CheckOptions, check_account, check_accounts
from toolkit.cli import app
from toolkit.segment.sinks import LocalSink

runner = CliRunner()
KEYS = {"web": "k-web", "android": "k-android", "ios": "k-ios", "personas": "k-personas"}
SOURCE_BUCKET = "segment-logs-shared"
GLUE_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture()
def collector(tmp_path):
    running = RunningCollector(
        LocalSink(tmp_path / "probes"), keys=KEYS, strict_keys=True
    )  # real Segment answers 200 to a wrong key
    yield running
    running.close()


def provision(
    session: boto3.Session, endpoint: str, logs_root, workshop_csv=None, source_bucket: str = SOURCE_BUCKET
) -> str:
    """Everything Exercise 1 needs; returns the data bucket's name."""
    s3 = session.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    account = session.client("sts", endpoint_url=endpoint, region_name="us-east-1").get_caller_identity()[
        "Account"
    ]
    bucket = f"personalize-data-{account}"
    s3.create_bucket(Bucket=bucket)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=source_bucket)
    for path in sorted(logs_root.rglob("*.gz"))[:3]:
        s3.upload_file(
            str(path), source_bucket, f"segment-logs/{path.relative_to(logs_root / 'segment-logs')}"
        )
    if workshop_csv:
        s3.upload_file(str(workshop_csv), bucket, "transformed/interactions.csv")
    iam = session.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    iam.create_role(
        RoleName="module-personalize-GlueServiceRole-ABC123", AssumeRolePolicyDocument=json.dumps(GLUE_TRUST)
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{source_bucket}", f"arn:aws:s3:::{source_bucket}/*"],
            },
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
        ],
    }
    iam.put_role_policy(
        RoleName="module-personalize-GlueServiceRole-ABC123",
        PolicyName="data",
        PolicyDocument=json.dumps(policy),
    )
    session.client("glue", endpoint_url=endpoint, region_name="us-east-1").create_database(
        DatabaseInput={"Name": "segment"}
    )
    provision_personalize(session, endpoint, bucket)
    return bucket


PERSONALIZE_ROLE = "module-personalize-PersonalizeServiceRole-XYZ789"


def provision_personalize(session: boto3.Session, endpoint: str, bucket: str) -> None:
    """What the workshop's stack gives Personalize: the bucket policy of Amazon's guide and a service
    role that reads the bucket."""
    s3 = session.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "personalize.amazonaws.com"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }
    s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    iam = session.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "personalize.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName=PERSONALIZE_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    reads = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ],
    }
    iam.put_role_policy(RoleName=PERSONALIZE_ROLE, PolicyName="data", PolicyDocument=json.dumps(reads))


def options(endpoint: str, collector, **changes) -> CheckOptions:
    base = CheckOptions(
        endpoint_url=endpoint,
        source=f"s3://{SOURCE_BUCKET}/segment-logs/",
        write_keys=dict(KEYS),
        host=collector.url,
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def line(result, name: str):
    return next(entry for entry in result.lines if entry.name == name)


WORKSHOP_CSV = (
    Path(__file__).resolve().parent / "data" / "workshop-interactions.csv"
)  # a copy of ../shared/reference


@pytest.mark.slow
def test_a_fully_provisioned_account_passes_every_line(moto, collector, workshop_logs):
    provision(boto3.Session(), moto, workshop_logs, WORKSHOP_CSV)
    result = check_account(None, "attendee-1", options(moto, collector))
    assert result.passed, [(entry.name, entry.detail) for entry in result.lines if entry.status != "pass"]
    assert {entry.name for entry in result.lines} >= {
        "region",
        "credentials",
        "data bucket",
        "Glue role",
        "source logs",
        "Athena database",
        "Athena results",
        "transformed CSV",
        "Personalize bucket policy",
        "Personalize role",
        "Segment website-prod",
        "Segment personas-event-source",
    }


@pytest.mark.slow
def test_each_missing_or_broken_resource_fails_its_own_line(moto, collector, workshop_logs, tmp_path):
    bucket = provision(boto3.Session(), moto, workshop_logs)
    iam = boto3.client("iam", endpoint_url=moto)
    iam.delete_role_policy(RoleName="module-personalize-GlueServiceRole-ABC123", PolicyName="data")
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1700000000000\n")
    boto3.client("s3", endpoint_url=moto).upload_file(str(bad_csv), bucket, "transformed/interactions.csv")
    boto3.client("glue", endpoint_url=moto, region_name="us-east-1").delete_database(Name="segment")
    result = check_account(
        None,
        "broken",
        options(
            moto,
            collector,
            write_keys={"web": "k-web", "android": "wrong"},
            source="s3://segment-logs-shared/nothing/",
        ),
    )
    assert not result.passed
    assert (
        line(result, "Glue role").status == "fail"
        and "lacks s3:ListBucket" in line(result, "Glue role").detail
    )
    assert line(result, "source logs").status == "fail"
    assert (
        line(result, "Athena database").status == "fail"
        and "CREATE DATABASE" in line(result, "Athena database").fix
    )
    assert (
        line(result, "transformed CSV").status == "fail"
        and "TIMESTAMP in epoch seconds" in line(result, "transformed CSV").detail
    )
    assert line(result, "Segment website-prod").status == "pass"
    assert "401" in line(result, "Segment android-prod").detail
    assert (
        line(result, "Segment ios-prod").status == "fail"
        and "--write-key ios=" in line(result, "Segment ios-prod").fix
    )
    assert line(result, "data bucket").status == "pass" and line(result, "region").status == "pass"


@pytest.mark.slow
def test_no_bucket_no_role_and_fix_creates_only_safe_things(moto, collector):
    result = check_account(None, "empty", options(moto, collector, skip_segment=True))
    assert line(result, "data bucket").status == "fail" and "--fix" in line(result, "data bucket").fix
    assert line(result, "Glue role").status == "fail" and "never creates IAM" in line(result, "Glue role").fix
    fixed = check_account(None, "empty", options(moto, collector, skip_segment=True, fix=True))
    assert line(fixed, "data bucket").status == "pass" and line(fixed, "Athena database").status == "pass"
    assert (
        any(c.startswith("s3://personalize-data-") for c in fixed.created)
        and "Athena database segment" in fixed.created
    )
    assert line(fixed, "Glue role").status == "fail"
    assert not boto3.client("iam", endpoint_url=moto).list_roles()["Roles"]


@pytest.mark.slow
def test_many_accounts_at_once_failures_first(moto, collector, workshop_logs, tmp_path):
    sts = boto3.client("sts", endpoint_url=moto, region_name="us-east-1")
    good_arn, bad_arn = (
        "arn:aws:iam::111111111111:role/instructor",
        "arn:aws:iam::222222222222:role/instructor",
    )
    credentials = sts.assume_role(RoleArn=good_arn, RoleSessionName="setup")["Credentials"]
    good = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    provision(good, moto, workshop_logs, WORKSHOP_CSV, source_bucket="segment-logs-shared-111")
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(f"profile_or_role_arn,name\n{good_arn},attendee-good\n{bad_arn},attendee-empty\n")
    results = check_accounts(
        [(good_arn, "attendee-good"), (bad_arn, "attendee-empty")],
        options(moto, collector, source="s3://segment-logs-shared-111/segment-logs/"),
    )
    assert [r.account for r in results] == ["attendee-empty", "attendee-good"]
    assert results[1].account_id == "111111111111" and results[1].passed, [
        (e.name, e.detail) for e in results[1].lines if e.status != "pass"
    ]
    assert not results[0].passed
    cli = runner.invoke(
        app,
        [
            "check",
            "--accounts",
            str(accounts),
            "--endpoint-url",
            moto,
            "--source",
            "s3://segment-logs-shared-111/segment-logs/",
            "--host",
            collector.url,
            "--json",
        ]
        + [f"--write-key={k}={v}" for k, v in KEYS.items()],
    )
    assert cli.exit_code == 1
    assert [entry["account"] for entry in json.loads(cli.output)] == ["attendee-empty", "attendee-good"]


@pytest.mark.slow
def test_cli_exit_codes(moto, collector, workshop_logs):
    provision(boto3.Session(), moto, workshop_logs, WORKSHOP_CSV)
    args = [
        "check",
        "--endpoint-url",
        moto,
        "--source",
        f"s3://{SOURCE_BUCKET}/segment-logs/",
        "--host",
        collector.url,
    ]
    ok = runner.invoke(app, args + [f"--write-key={k}={v}" for k, v in KEYS.items()])
    assert ok.exit_code == 0, ok.output
    assert "k-web" not in ok.output
    assert runner.invoke(app, args + ["--accounts", "/no/such.csv"]).exit_code == 2
    assert runner.invoke(app, args + ["--write-key", "nosuch=1"]).exit_code == 2
