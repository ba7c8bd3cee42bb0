"""`toolkit import` into Amazon Personalize.

No offline Personalize exists: S3, IAM, STS and Personalize's schema calls run against moto's
server; every other Personalize call goes through botocore's Stubber, which checks each request
against the real service model (operation, parameter names, types, required members) and answers
with the responses a test gives, so the success, CREATE FAILED and throttling paths are driven
here as the service documents them."""

from __future__ import annotations

import csv
import json
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from botocore.stub import ANY, Stubber
from typer.testing import CliRunner

import toolkit.personalize
from tests.helpers import START
from toolkit.aws.personalize import Personalize
from toolkit.aws.personalize_access import personalize_statement, read_policy, trust_policy
from toolkit.aws.s3 import AwsOptions
from toolkit.cli import app
from toolkit.errors import UsageError
from toolkit.importing import import_datasets
from toolkit.personalize.import_plan import AccountState, DatasetFile, ImportRequest, plan_import
from toolkit.personalize.schema import interactions_schema
from toolkit.render import import_status_lines
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.scenario_toml import load_scenario
from toolkit.workshop import run_workshop

runner = CliRunner()
ACCOUNT, REGION, GROUP = "123456789012", "us-east-1", "workshop"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/toolkit-personalize-s3-read"
KINDS = ("interactions", "users", "items")
TYPES = {"interactions": "Interactions", "users": "Users", "items": "Items"}


def arn(kind: str, name: str) -> str:
    return f"arn:aws:personalize:{REGION}:{ACCOUNT}:{kind}/{name}"


GROUP_ARN = arn("dataset-group", GROUP)


@pytest.fixture(scope="module")
def workshop_folder(tmp_path_factory):
    """What `toolkit workshop --out FOLDER` leaves: transformed/interactions.csv, interactions.avsc,
    users.csv and items.csv with their .avsc."""
    out = tmp_path_factory.mktemp("workshop")
    LocalSink(out).check()
    run_workshop(load_scenario().with_visitors(300), START, 3, 1, out)
    return out


@pytest.fixture()
def bucket(moto):
    name = "personalize-data-import-test"
    boto3.client("s3", endpoint_url=moto, region_name=REGION).create_bucket(Bucket=name)
    return name


@dataclass(frozen=True)
class StubbedAws(AwsOptions):
    """moto for S3, IAM and STS; the given stubbed client for Personalize."""

    personalize: Any = None

    def client(self, service: str):
        return self.personalize if service == "personalize" else super().client(service)


def stubbed_personalize():
    client = botocore.session.get_session().create_client(
        "personalize", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


@pytest.fixture()
def cli_personalize(monkeypatch):
    """A stubbed Personalize client that the CLI's AwsOptions hand out (moto for the rest)."""
    client, stub = stubbed_personalize()
    original = AwsOptions.client
    monkeypatch.setattr(
        AwsOptions,
        "client",
        lambda self, service: client if service == "personalize" else original(self, service),
    )
    return client, stub


def avro(path) -> str:
    return json.dumps(json.loads(path.read_text()))


def expect_fresh_account(stub: Stubber) -> None:
    """What an import reads first from an account holding nothing of it."""
    stub.add_response("list_dataset_groups", {"datasetGroups": []}, {})
    stub.add_response("list_schemas", {"schemas": []}, {})


def expect_creation(stub: Stubber, folder, bucket: str, job_ends: dict[str, dict]) -> None:
    """The calls that make the group, schemas, datasets and jobs, polled to their ends."""
    stub.add_response("create_dataset_group", {"datasetGroupArn": GROUP_ARN}, {"name": GROUP})
    for status in ("CREATE PENDING", "ACTIVE"):
        stub.add_response(
            "describe_dataset_group",
            {"datasetGroup": {"name": GROUP, "datasetGroupArn": GROUP_ARN, "status": status}},
            {"datasetGroupArn": GROUP_ARN},
        )
    schemas = {
        "interactions": folder / "interactions.avsc",
        "users": folder / "users.avsc",
        "items": folder / "items.avsc",
    }
    for kind in KINDS:
        stub.add_response(
            "create_schema",
            {"schemaArn": arn("schema", f"{GROUP}-{kind}")},
            {"name": f"{GROUP}-{kind}", "schema": avro(schemas[kind])},
        )
    for kind in KINDS:
        stub.add_response(
            "create_dataset",
            {"datasetArn": arn("dataset", f"{GROUP}/{kind.upper()}")},
            {
                "name": f"{GROUP}-{kind}",
                "schemaArn": arn("schema", f"{GROUP}-{kind}"),
                "datasetGroupArn": GROUP_ARN,
                "datasetType": TYPES[kind],
            },
        )
    for kind in KINDS:
        stub.add_response(
            "describe_dataset",
            {"dataset": {"datasetArn": arn("dataset", f"{GROUP}/{kind.upper()}"), "status": "ACTIVE"}},
            {"datasetArn": arn("dataset", f"{GROUP}/{kind.upper()}")},
        )
    for kind in KINDS:
        stub.add_response(
            "create_dataset_import_job",
            {"datasetImportJobArn": arn("dataset-import-job", f"{GROUP}-{kind}")},
            {
                "jobName": ANY,
                "datasetArn": arn("dataset", f"{GROUP}/{kind.upper()}"),
                "dataSource": {"dataLocation": f"s3://{bucket}/{GROUP}/{kind}.csv"},
                "roleArn": ROLE,
                "importMode": "FULL",
            },
        )
    polls = {kind: ["CREATE IN_PROGRESS", job_ends[kind]["status"]] for kind in KINDS}
    pending = list(KINDS)
    while pending:  # the import polls every job still in progress, in order, until each ends
        for kind in list(pending):
            status = polls[kind].pop(0)
            job = {"datasetImportJobArn": arn("dataset-import-job", f"{GROUP}-{kind}"), "status": status}
            if not polls[kind]:
                job.update(job_ends[kind])
                pending.remove(kind)
            stub.add_response(
                "describe_dataset_import_job",
                {"datasetImportJob": job},
                {"datasetImportJobArn": arn("dataset-import-job", f"{GROUP}-{kind}")},
            )


def run(folder, moto, bucket, client, **options):
    return import_datasets(
        [str(folder)],
        dataset_group=GROUP,
        bucket=bucket,
        create_role=True,
        confirm=lambda question: True,
        aws=StubbedAws(endpoint_url=moto, region=REGION, personalize=client),
        poll_seconds=0,
        **options,
    )


def test_import_a_workshop_folder_creates_everything_and_uploads_the_csvs(workshop_folder, moto, bucket):
    client, stub = stubbed_personalize()
    expect_fresh_account(stub)
    expect_creation(stub, workshop_folder, bucket, {kind: {"status": "ACTIVE"} for kind in KINDS})
    with stub:
        result = run(workshop_folder, moto, bucket, client)
        stub.assert_no_pending_responses()
    assert result.ok and result.valid and not result.failed and not result.waited_out
    assert result.domain is None  # the workshop's EVENT_TYPEs are Segment's event names
    assert [s.status for s in result.statuses if "import" in s.what] == ["ACTIVE"] * 3
    s3 = boto3.client("s3", endpoint_url=moto, region_name=REGION)
    local = {
        "interactions": workshop_folder / "transformed" / "interactions.csv",
        "users": workshop_folder / "users.csv",
        "items": workshop_folder / "items.csv",
    }
    for kind, path in local.items():
        body = s3.get_object(Bucket=bucket, Key=f"{GROUP}/{kind}.csv")["Body"].read()
        assert body == path.read_bytes()
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    granted = [s for s in policy["Statement"] if s["Principal"] == {"Service": "personalize.amazonaws.com"}]
    assert granted and set(granted[0]["Action"]) == {"s3:GetObject", "s3:ListBucket"}
    assert set(granted[0]["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
    iam = boto3.client("iam", endpoint_url=moto, region_name=REGION)
    role = iam.get_role(RoleName="toolkit-personalize-s3-read")["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"Service": "personalize.amazonaws.com"}
    read = iam.get_role_policy(RoleName="toolkit-personalize-s3-read", PolicyName=f"s3-read-{bucket}")
    actions = {s["Action"]: s["Resource"] for s in read["PolicyDocument"]["Statement"]}
    assert actions == {"s3:GetObject": f"arn:aws:s3:::{bucket}/*", "s3:ListBucket": f"arn:aws:s3:::{bucket}"}
    document = result.as_dict()
    assert document["ok"] and [d["dataset"] for d in document["datasets"]] == list(KINDS)


def test_a_failed_import_job_reports_its_reason(workshop_folder, moto, bucket):
    client, stub = stubbed_personalize()
    expect_fresh_account(stub)
    reason = "Input CSV is missing the following columns: [EVENT_TYPE]"
    ends = {
        "interactions": {"status": "CREATE FAILED", "failureReason": reason},
        "users": {"status": "ACTIVE"},
        "items": {"status": "ACTIVE"},
    }
    expect_creation(stub, workshop_folder, bucket, ends)
    with stub:
        result = run(workshop_folder, moto, bucket, client)
        stub.assert_no_pending_responses()
    assert not result.ok and result.valid
    assert [(s.status, s.failure_reason) for s in result.failed] == [("CREATE FAILED", reason)]
    assert "Interactions" in result.failed[0].what


def test_throttling_is_retried_with_backoff(workshop_folder, moto, bucket):
    client, stub = stubbed_personalize()
    stub.add_client_error("list_dataset_groups", "ThrottlingException", "Rate exceeded", 400)
    expect_fresh_account(stub)
    stub.add_client_error("create_dataset_group", "ThrottlingException", "Rate exceeded", 400)
    expect_creation(stub, workshop_folder, bucket, {kind: {"status": "ACTIVE"} for kind in KINDS})
    with stub:
        result = run(workshop_folder, moto, bucket, client)
        stub.assert_no_pending_responses()
    assert result.ok and result.retries == 2


def test_an_invalid_csv_is_refused_before_any_aws_call(workshop_folder, tmp_path, moto, bucket):
    folder = tmp_path / "ws"
    (folder / "transformed").mkdir(parents=True)
    source = workshop_folder / "transformed" / "interactions.csv"
    rows = source.read_text().splitlines()
    (folder / "transformed" / "interactions.csv").write_text("\n".join(rows[:500]) + "\n")  # under 1,000
    client, stub = stubbed_personalize()  # no responses: any Personalize call fails the test
    with stub:
        result = run(folder, moto, bucket, client)
    assert not result.valid and not result.ok and not result.steps
    assert (
        boto3.client("s3", endpoint_url=moto, region_name=REGION).list_objects_v2(Bucket=bucket)["KeyCount"]
        == 0
    )


def test_dry_run_prints_valid_aws_commands_and_creates_nothing(
    workshop_folder, moto, bucket, cli_personalize
):
    client, stub = cli_personalize
    expect_fresh_account(stub)  # reads only: a create call would be an unexpected call to the Stubber
    with stub:
        result = runner.invoke(
            app,
            [
                "import",
                str(workshop_folder),
                "--dataset-group",
                GROUP,
                "--bucket",
                bucket,
                "--create-role",
                "--dry-run",
                "--endpoint-url",
                moto,
                "--region",
                REGION,
            ],
        )
        stub.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    commands = [line for line in result.output.splitlines() if line.startswith("aws ")]
    operations = [shlex.split(c)[1:3] for c in commands]
    assert operations == [
        ["s3", "cp"],
        ["s3", "cp"],
        ["s3", "cp"],
        ["s3api", "put-bucket-policy"],
        ["iam", "create-role"],
        ["iam", "put-role-policy"],
        ["personalize", "create-dataset-group"],
        *[["personalize", "create-schema"]] * 3,
        *[["personalize", "create-dataset"]] * 3,
        *[["personalize", "create-dataset-import-job"]] * 3,
    ]
    session = botocore.session.get_session()
    for command in commands:
        words = shlex.split(command)
        if words[1] == "s3":
            continue
        model = session.get_service_model({"s3api": "s3"}.get(words[1], words[1]))
        operation = next(o for o in model.operation_names if kebab(o) == words[2])
        members = {kebab(m): m for m in model.operation_model(operation).input_shape.members}
        given = [w[2:] for w in words[3:] if w.startswith("--")]
        options = [g for g in given if g not in ("region", "endpoint-url", "profile")]
        assert all(o in members for o in options), (command, options)
        required = {kebab(m) for m in model.operation_model(operation).input_shape.required_members}
        assert required <= set(options), command
    s3 = boto3.client("s3", endpoint_url=moto, region_name=REGION)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_bucket_policy(Bucket=bucket)
    assert not boto3.client("iam", endpoint_url=moto, region_name=REGION).list_roles()["Roles"]
    assert f"--data-source dataLocation=s3://{bucket}/{GROUP}/interactions.csv" in result.output


def kebab(name: str) -> str:
    """An API name as the AWS CLI spells it (CreateDatasetGroup -> create-dataset-group)."""
    return xform_name(name, "-")


def plan_for(files, state, **request):
    return plan_import(files, state, ImportRequest(GROUP, **request), domain=None, stamp="20261204T120000")


def interactions_file(schema=None) -> DatasetFile:
    return DatasetFile(
        "interactions",
        "s3://data/transformed/interactions.csv",
        Path("interactions.csv"),
        "s3://data/transformed/interactions.csv",
        schema or interactions_schema(),
        "interactions.avsc",
    )


def test_schema_calls_against_moto_then_reused_by_name(moto):
    """The create_schema call the plan makes, sent to moto; what moto then lists and describes
    makes the next plan reuse the schema, and a schema with other fields is refused."""
    client = boto3.client("personalize", endpoint_url=moto, region_name=REGION)
    state = AccountState(ACCOUNT, REGION, bucket_policies={"data": None}, role_found=ROLE)
    steps = plan_for([interactions_file()], state)
    (create,) = [s for s in steps if s.operation == "create_schema"]
    made = client.create_schema(**create.params)["schemaArn"]
    assert made == create.arn == arn("schema", f"{GROUP}-interactions")
    state.schemas = Personalize(client).schemas_named({f"{GROUP}-interactions", "another"})
    assert json.loads(state.schemas[f"{GROUP}-interactions"]["schema"]) == interactions_schema()
    again = [s for s in plan_for([interactions_file()], state) if s.stage == "schemas"]
    assert [(s.action, s.arn, s.command) for s in again] == [("reuse", made, "")]
    other = interactions_schema(["USER_ID", "ITEM_ID", "TIMESTAMP"])
    with pytest.raises(UsageError, match="cannot change"):
        plan_for([interactions_file(other)], state)


def existing_account(jobs: list[dict]) -> AccountState:
    schema = arn("schema", f"{GROUP}-interactions")
    dataset = arn("dataset", f"{GROUP}/INTERACTIONS")
    return AccountState(
        ACCOUNT,
        REGION,
        dataset_group={"name": GROUP, "datasetGroupArn": GROUP_ARN, "status": "ACTIVE"},
        schemas={f"{GROUP}-interactions": {"schemaArn": schema, "schema": json.dumps(interactions_schema())}},
        datasets={
            "interactions": {
                "name": f"{GROUP}-interactions",
                "datasetArn": dataset,
                "schemaArn": schema,
                "status": "ACTIVE",
            }
        },
        jobs={"interactions": jobs},
        bucket_policies={"data": {"Statement": [personalize_statement("data")]}},
        role_found=ROLE,
    )


def test_a_second_import_reuses_everything_and_only_adds_a_job():
    state = existing_account([{"jobName": "first", "status": "ACTIVE"}])
    steps = plan_for([interactions_file()], state, incremental=True)
    assert [s.action for s in steps] == ["reuse", "reuse", "reuse", "reuse", "import"]
    assert steps[-1].params["importMode"] == "INCREMENTAL"
    assert steps[-1].params["datasetArn"] == arn("dataset", f"{GROUP}/INTERACTIONS")
    assert "--import-mode INCREMENTAL" in steps[-1].command
    assert plan_for([interactions_file()], state)[-1].params["importMode"] == "FULL"


def test_the_first_import_must_be_full():
    with pytest.raises(UsageError, match="first import must be FULL"):
        plan_for(
            [interactions_file()],
            existing_account([{"jobName": "j", "status": "CREATE FAILED"}]),
            incremental=True,
        )


def test_a_job_in_progress_from_the_same_csv_is_waited_for_not_doubled():
    state = existing_account([{"jobName": "j", "status": "CREATE IN_PROGRESS"}])
    job = arn("dataset-import-job", "j")
    state.running["interactions"] = {
        "jobName": "j",
        "datasetImportJobArn": job,
        "status": "CREATE IN_PROGRESS",
        "dataSource": {"dataLocation": "s3://data/transformed/interactions.csv"},
        "importMode": "FULL",
    }
    last = plan_for([interactions_file()], state)[-1]
    assert (last.action, last.arn, last.wait is not None) == ("reuse", job, True)
    state.running["interactions"]["dataSource"]["dataLocation"] = "s3://data/other.csv"
    with pytest.raises(UsageError, match="wait for it to end"):
        plan_for([interactions_file()], state)


def test_a_csv_written_for_the_ecommerce_domain_goes_into_an_ecommerce_group(
    workshop_folder, tmp_path, moto, bucket, monkeypatch
):
    mapping = tomllib.loads((Path(toolkit.personalize.__file__).parent / "ecommerce_events.toml").read_text())
    with open(workshop_folder / "transformed" / "interactions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["EVENT_TYPE"] = mapping[row["EVENT_TYPE"]]
    written = tmp_path / "interactions.csv"
    with open(written, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    client, stub = stubbed_personalize()
    expect_fresh_account(stub)
    with stub:
        result = run(written, moto, bucket, client, dry_run=True)
    assert result.valid and result.domain == "ECOMMERCE"
    made = {s.operation: s.params for s in result.steps if s.service == "personalize"}
    assert (
        made["create_dataset_group"]["domain"] == "ECOMMERCE"
        and made["create_schema"]["domain"] == "ECOMMERCE"
    )


def test_cli_exit_codes(workshop_folder, tmp_path, moto, bucket, cli_personalize, monkeypatch):
    client, stub = cli_personalize
    common = ["--dataset-group", GROUP, "--endpoint-url", moto, "--region", REGION]
    misnamed = runner.invoke(app, ["import", str(workshop_folder), "--dataset-group", "my group!"])
    assert misnamed.exit_code == 2
    assert "--dataset-group 'my group!' is not a Personalize name" in misnamed.output
    missing = runner.invoke(app, ["import", str(tmp_path / "nothing"), *common])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    unbucketed = runner.invoke(app, ["import", str(workshop_folder), *common])
    assert unbucketed.exit_code == 2 and "give the --bucket to upload" in unbucketed.output
    expect_fresh_account(stub)
    reason = "Input CSV is missing the following columns: [EVENT_TYPE]"
    ends = {kind: {"status": "ACTIVE"} for kind in KINDS} | {
        "users": {"status": "CREATE FAILED", "failureReason": reason}
    }
    expect_creation(stub, workshop_folder, bucket, ends)
    monkeypatch.setattr("toolkit.importing.POLL_SECONDS", 0)
    with stub:
        failed = runner.invoke(
            app,
            [
                "import",
                str(workshop_folder),
                *common,
                "--bucket",
                bucket,
                "--create-role",
                "--set-bucket-policy",
            ],
        )
    assert failed.exit_code == 1, failed.output
    assert "CREATE FAILED" in failed.output and reason in failed.output.replace("\n", " ")


def test_the_next_step_workshop_prints_imports_what_it_wrote(s3_bucket, tmp_path, cli_personalize):
    endpoint, bucket = s3_bucket
    out = tmp_path / "ws"
    workshop = runner.invoke(
        app,
        ["workshop", "--date", "2026-11-01", "--days", "3", "--users-per-day", "300", "--out", str(out)]
        + ["--bucket", bucket, "--endpoint-url", endpoint],
    )
    assert workshop.exit_code == 0, workshop.output
    printed = " ".join(workshop.output.split("next step:", 1)[1].split("(add --dry-run", 1)[0].split())
    words = shlex.split(printed)
    assert words[:3] == ["toolkit", "import", f"s3://{bucket}/transformed/interactions.csv"]
    assert words[3:5] == [str(out / "users.csv"), str(out / "items.csv")]
    client, stub = cli_personalize
    stub.add_response("list_dataset_groups", {"datasetGroups": []}, {})
    stub.add_response("list_schemas", {"schemas": []}, {})
    with stub:
        dry = runner.invoke(app, [*words[1:], "--dry-run", "--json", "--endpoint-url", endpoint])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.output)
    assert [d["data_location"] for d in plan["datasets"]] == [
        f"s3://{bucket}/transformed/interactions.csv",
        f"s3://{bucket}/workshop/users.csv",
        f"s3://{bucket}/workshop/items.csv",
    ]
    assert plan["valid"] and [s["action"] for s in plan["steps"]][:2] == ["upload", "upload"]


def test_transform_to_s3_prints_the_import_as_its_next_step(s3_bucket, workshop_logs, tmp_path):
    endpoint, bucket = s3_bucket
    users = tmp_path / "users.csv"
    done = runner.invoke(
        app,
        ["transform", str(workshop_logs), "--out", f"s3://{bucket}/transformed/", "--users", str(users)]
        + ["--endpoint-url", endpoint],
    )
    assert done.exit_code == 0, done.output
    printed = " ".join(done.output.split("next step:", 1)[1].split("(add --dry-run", 1)[0].split())
    assert shlex.split(printed) == [
        "toolkit",
        "import",
        f"s3://{bucket}/transformed/interactions.csv",
        str(users),
        "--dataset-group",
        "segment-personalize",
        "--bucket",
        bucket,
        "--create-role",
    ]


def test_a_bucket_personalize_cannot_read_is_not_changed_unasked(
    workshop_folder, moto, bucket, cli_personalize
):
    client, stub = cli_personalize
    expect_fresh_account(stub)
    with stub:
        refused = runner.invoke(
            app,
            ["import", str(workshop_folder), "--dataset-group", GROUP, "--bucket", bucket, "--create-role"]
            + ["--endpoint-url", moto, "--region", REGION],
        )
        stub.assert_no_pending_responses()  # the account was read, nothing created
    assert refused.exit_code == 2
    assert "--set-bucket-policy" in refused.output and "aws s3api put-bucket-policy" in refused.output
    s3 = boto3.client("s3", endpoint_url=moto, region_name=REGION)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert not boto3.client("iam", endpoint_url=moto, region_name=REGION).list_roles()["Roles"]


def test_the_wait_is_bounded_and_names_what_it_still_waits_for(workshop_folder, moto, bucket):
    """A second import into an account holding everything (found by name), whose job is still
    running when the wait runs out."""
    s3 = boto3.client("s3", endpoint_url=moto, region_name=REGION)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [personalize_statement(bucket)]}))
    iam = boto3.client("iam", endpoint_url=moto, region_name=REGION)
    iam.create_role(
        RoleName="toolkit-personalize-s3-read", AssumeRolePolicyDocument=json.dumps(trust_policy())
    )
    iam.put_role_policy(
        RoleName="toolkit-personalize-s3-read",
        PolicyName="read",
        PolicyDocument=json.dumps(read_policy(bucket)),
    )
    csv_path = workshop_folder / "transformed" / "interactions.csv"
    schema, dataset = arn("schema", f"{GROUP}-interactions"), arn("dataset", f"{GROUP}/INTERACTIONS")
    job = arn("dataset-import-job", "second")
    client, stub = stubbed_personalize()
    group = {"name": GROUP, "datasetGroupArn": GROUP_ARN, "status": "ACTIVE"}
    stub.add_response("list_dataset_groups", {"datasetGroups": [group]}, {})
    stub.add_response("describe_dataset_group", {"datasetGroup": group}, {"datasetGroupArn": GROUP_ARN})
    stub.add_response(
        "list_schemas", {"schemas": [{"name": f"{GROUP}-interactions", "schemaArn": schema}]}, {}
    )
    stub.add_response(
        "describe_schema",
        {
            "schema": {
                "name": f"{GROUP}-interactions",
                "schemaArn": schema,
                "schema": avro(workshop_folder / "interactions.avsc"),
            }
        },
        {"schemaArn": schema},
    )
    listed = {"name": f"{GROUP}-interactions", "datasetArn": dataset, "datasetType": "INTERACTIONS"}
    stub.add_response("list_datasets", {"datasets": [listed]}, {"datasetGroupArn": GROUP_ARN})
    stub.add_response(
        "describe_dataset",
        {"dataset": {**listed, "schemaArn": schema, "status": "ACTIVE"}},
        {"datasetArn": dataset},
    )
    stub.add_response(
        "list_dataset_import_jobs",
        {
            "datasetImportJobs": [
                {
                    "jobName": "first",
                    "datasetImportJobArn": arn("dataset-import-job", "first"),
                    "status": "ACTIVE",
                }
            ]
        },
        {"datasetArn": dataset},
    )
    stub.add_response("create_dataset_import_job", {"datasetImportJobArn": job}, None)
    stub.add_response(
        "describe_dataset_import_job",
        {"datasetImportJob": {"datasetImportJobArn": job, "status": "CREATE IN_PROGRESS"}},
        {"datasetImportJobArn": job},
    )
    told = []
    with stub:
        result = import_datasets(
            [str(csv_path)],
            dataset_group=GROUP,
            bucket=bucket,
            incremental=True,
            aws=StubbedAws(endpoint_url=moto, region=REGION, personalize=client),
            wait_seconds=0,
            poll_seconds=0.01,
            on_status=lambda what, status, seconds: told.append(status),
        )
        stub.assert_no_pending_responses()
    assert [s.action for s in result.steps] == ["upload", "reuse", "reuse", "reuse", "reuse", "import"]
    assert result.steps[-1].params["importMode"] == "INCREMENTAL"
    assert not result.ok and not result.statuses
    assert [(s.arn, s.status) for s in result.waited_out] == [(job, "CREATE IN_PROGRESS")]
    assert told[-1] == "CREATE IN_PROGRESS"
    lines = " ".join(str(line) for line in import_status_lines(result))
    assert f"aws personalize describe-dataset-import-job --dataset-import-job-arn {job}" in lines
