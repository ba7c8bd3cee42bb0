"""Just enough IAM policy evaluation to tell whether a role may do an S3 action on a resource.

Reads the role's inline and attached managed policies and applies IAM's basic rule: an explicit
Deny wins, else any Allow grants. Conditions, permission boundaries, SCPs and bucket policies are
not evaluated (IAM's simulator, which would, is not available to every caller nor to moto).
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from urllib.parse import unquote


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _document(raw) -> dict:
    return json.loads(unquote(raw)) if isinstance(raw, str) else raw


def role_statements(iam, role_name: str) -> list[dict]:
    """Every statement of the role's inline and attached managed policies."""
    statements = []
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        statements += _as_list(
            _document(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]).get(
                "Statement", []
            )
        )
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]
        statements += _as_list(_document(version["Document"]).get("Statement", []))
    return statements


def _matches(patterns, value: str) -> bool:
    return any(
        fnmatchcase(
            value.lower() if ":" in value and "/" not in value else value,
            p.lower() if ":" in p and "/" not in p else p,
        )
        for p in _as_list(patterns)
    )


def allowed(statements: list[dict], action: str, resource: str) -> bool:
    """Whether the statements allow `action` (e.g. s3:GetObject) on `resource` (an ARN)."""
    verdict = False
    for statement in statements:
        if "Action" not in statement or "Resource" not in statement:
            continue
        if _matches(statement["Action"], action) and _matches(statement["Resource"], resource):
            if statement.get("Effect") == "Deny":
                return False
            verdict = verdict or statement.get("Effect") == "Allow"
    return verdict


def trusts(assume_role_document, service: str) -> bool:
    """Whether a role's trust policy lets `service` (e.g. glue.amazonaws.com) assume it."""
    for statement in _as_list(_document(assume_role_document).get("Statement", [])):
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        if (
            statement.get("Effect") == "Allow"
            and service in services
            and _matches(statement.get("Action", []), "sts:AssumeRole")
        ):
            return True
    return False
