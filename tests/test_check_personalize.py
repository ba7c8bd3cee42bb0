"""`toolkit check`'s Personalize lines: the bucket policy and the role against moto's S3 and IAM; the
dataset group through botocore's Stubber (moto has no dataset groups), which holds each request to
the real service model."""

from __future__ import annotations

import json

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from tests.test_check import PERSONALIZE_ROLE, SOURCE_BUCKET, line, provision
from toolkit.checking import CheckOptions, check_account, dataset_group_line

GROUP_ARN = "arn:aws:personalize:us-east-1:123456789012:dataset-group/workshop"


def options(endpoint: str, **changes) -> CheckOptions:
    return CheckOptions(
        endpoint_url=endpoint, source=f"s3://{SOURCE_BUCKET}/segment-logs/", skip_segment=True, **changes
    )


def test_a_bucket_personalize_cannot_read_and_a_role_it_cannot_assume_fail_their_lines(moto, workshop_logs):
    bucket = provision(boto3.Session(), moto, workshop_logs)
    boto3.client("s3", endpoint_url=moto).delete_bucket_policy(Bucket=bucket)
    iam = boto3.client("iam", endpoint_url=moto)
    glue_only = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.update_assume_role_policy(RoleName=PERSONALIZE_ROLE, PolicyDocument=json.dumps(glue_only))
    result = check_account(None, "attendee", options(moto))
    policy = line(result, "Personalize bucket policy")
    assert policy.status == "fail" and f"s3:GetObject on arn:aws:s3:::{bucket}/*" in policy.detail
    assert "--set-bucket-policy" in policy.fix
    role = line(result, "Personalize role")
    assert role.status == "fail" and "does not trust personalize.amazonaws.com" in role.detail
    assert not result.passed


def test_a_role_without_the_read_fails_naming_what_it_lacks(moto, workshop_logs):
    bucket = provision(boto3.Session(), moto, workshop_logs)
    boto3.client("iam", endpoint_url=moto).delete_role_policy(RoleName=PERSONALIZE_ROLE, PolicyName="data")
    role = line(check_account(None, "attendee", options(moto)), "Personalize role")
    assert role.status == "fail"
    assert (
        f"s3:GetObject on arn:aws:s3:::{bucket}/*" in role.detail
        and f"s3:ListBucket on arn:aws:s3:::{bucket}" in role.detail
    )
    assert "--create-role" in role.fix


def test_a_named_role_that_does_not_exist_fails(moto, workshop_logs):
    provision(boto3.Session(), moto, workshop_logs)
    checked = options(moto, personalize_role="arn:aws:iam::123456789012:role/nobody")
    role = line(check_account(None, "attendee", checked), "Personalize role")
    assert (role.status, role.detail) == ("fail", "no role nobody")


@pytest.mark.parametrize(
    ("group", "status", "detail"),
    [
        ({"status": "ACTIVE", "domain": "ECOMMERCE"}, "pass", "workshop is ACTIVE (domain ECOMMERCE)"),
        ({"status": "CREATE IN_PROGRESS"}, "warn", "workshop is CREATE IN_PROGRESS"),
        (
            {"status": "CREATE FAILED", "failureReason": "KMS key not found"},
            "fail",
            "workshop is CREATE FAILED: KMS key not found",
        ),
        (None, "fail", "no dataset group workshop"),
    ],
)
def test_the_dataset_group_line(group, status, detail):
    client = botocore.session.get_session().create_client(
        "personalize", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    listed = [{"name": "other", "datasetGroupArn": GROUP_ARN + "-other"}]
    if group is not None:
        listed.append({"name": "workshop", "datasetGroupArn": GROUP_ARN})
    stub.add_response("list_dataset_groups", {"datasetGroups": listed}, {})
    if group is not None:
        described = {"name": "workshop", "datasetGroupArn": GROUP_ARN, **group}
        stub.add_response(
            "describe_dataset_group", {"datasetGroup": described}, {"datasetGroupArn": GROUP_ARN}
        )
    with stub:
        found = dataset_group_line(client, "workshop")
        stub.assert_no_pending_responses()
    assert (found.status, found.detail) == (status, detail)
    assert status == "pass" or found.fix
