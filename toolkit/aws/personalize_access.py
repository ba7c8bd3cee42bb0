"""What Amazon Personalize needs from S3 and IAM to import a CSV: a bucket policy letting
personalize.amazonaws.com get and list the bucket's objects, and a role it can assume that reads them.

The statement is the one Amazon's guide gives ("Attaching an Amazon S3 policy to your bucket"); the
role trusts the service and allows s3:GetObject on the bucket's objects and s3:ListBucket on it.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions

from toolkit.aws.policies import allowed, role_statements, trusts

SERVICE = "personalize.amazonaws.com"
STATEMENT_ID = "PersonalizeS3BucketAccessPolicy"
ROLE_NAME = "toolkit-personalize-s3-read"  # what --create-role makes (and an import then finds)
ROLE_POLICY_PREFIX = "s3-read-"


def read_needs(bucket: str) -> list[tuple[str, str]]:
    """(action, resource) pairs Personalize must be allowed on a bucket to import from it."""
    return [("s3:GetObject", f"arn:aws:s3:::{bucket}/*"), ("s3:ListBucket", f"arn:aws:s3:::{bucket}")]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _names_service(statement: dict[str, Any], service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return service in _as_list(principal.get("Service", [])) or "*" in _as_list(principal.get("AWS", []))


def bucket_policy(s3: Any, bucket: str) -> dict[str, Any] | None:
    """The bucket's policy document, or None when it has none."""
    try:
        return dict(json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]))
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return None
        raise


def bucket_read_missing(policy: dict[str, Any] | None, bucket: str) -> list[str]:
    """What the bucket policy does not yet allow Personalize ("s3:GetObject on arn:..."); [] when all."""
    statements = [
        s
        for s in _as_list((policy or {}).get("Statement", []))
        if isinstance(s, dict) and _names_service(s, SERVICE)
    ]
    return [
        f"{action} on {resource}"
        for action, resource in read_needs(bucket)
        if not allowed(statements, action, resource)
    ]


def personalize_statement(bucket: str) -> dict[str, Any]:
    return {
        "Sid": STATEMENT_ID,
        "Effect": "Allow",
        "Principal": {"Service": SERVICE},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
    }


def with_personalize_read(policy: dict[str, Any] | None, bucket: str) -> dict[str, Any]:
    """The bucket policy with the Personalize statement added (an older one of the same Sid replaced)."""
    document = dict(policy or {"Version": "2012-10-17"})
    kept = [
        s
        for s in _as_list(document.get("Statement", []))
        if not (isinstance(s, dict) and s.get("Sid") == STATEMENT_ID)
    ]
    document["Statement"] = [*kept, personalize_statement(bucket)]
    return document


def put_bucket_policy(s3: Any, bucket: str, policy: dict[str, Any]) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def role_name(arn: str) -> str:
    """The name in a role ARN (arn:aws:iam::123456789012:role/path/name -> name)."""
    return arn.rsplit("/", 1)[-1]


def role_problems(iam: Any, name: str, buckets: list[str]) -> list[str]:
    """Why Personalize could not import from the buckets with this role; [] when it could. A role
    that does not exist is a ClientError (NoSuchEntity) for the caller to report."""
    role = iam.get_role(RoleName=name)["Role"]
    problems = (
        [] if trusts(role["AssumeRolePolicyDocument"], SERVICE) else [f"{name} does not trust {SERVICE}"]
    )
    statements = role_statements(iam, name)
    missing = [
        f"{action} on {resource}"
        for bucket in buckets
        for action, resource in read_needs(bucket)
        if not allowed(statements, action, resource)
    ]
    if missing:
        problems.append(f"{name} lacks {'; '.join(missing)}")
    return problems


def trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": "sts:AssumeRole"}],
    }


def read_policy(bucket: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        ],
    }


def find_role(iam: Any, name: str) -> str | None:
    """The ARN of the role of that name, or None."""
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return None
        raise


def create_read_role(iam: Any, buckets: list[str], name: str = ROLE_NAME) -> str:
    """A role Personalize can assume that reads the buckets (created, or the existing one given the
    reads it lacks); returns its ARN."""
    arn = find_role(iam, name)
    if arn is None:
        arn = str(
            iam.create_role(
                RoleName=name,
                AssumeRolePolicyDocument=json.dumps(trust_policy()),
                Description="Lets Amazon Personalize read import data from S3 (made by toolkit import)",
            )["Role"]["Arn"]
        )
    for bucket in buckets:
        iam.put_role_policy(
            RoleName=name,
            PolicyName=f"{ROLE_POLICY_PREFIX}{bucket}"[:128],
            PolicyDocument=json.dumps(read_policy(bucket)),
        )
    return arn
