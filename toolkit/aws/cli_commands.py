"""The AWS CLI command that makes the same call as a boto3 operation with these parameters, so that a
plan can be shown as commands a user could paste (aws personalize create-dataset-group --name ...)."""

from __future__ import annotations

import json
import shlex
from typing import Any

from botocore import xform_name

CLI_SERVICES = {"s3": "s3api"}  # boto3's name -> the CLI's, where they differ


def _kebab(name: str) -> str:
    """A boto3 name as the CLI spells it: datasetGroupArn -> dataset-group-arn, create_dataset_group
    -> create-dataset-group (botocore's own conversion, the one the CLI makes)."""
    return xform_name(name, "-").replace("_", "-")


def _value(value: Any) -> str:
    """A parameter as the CLI takes it: a flat structure in its shorthand (key=value,...), other
    structures and lists as JSON, scalars as text."""
    if isinstance(value, dict) and all(isinstance(v, str | int | float) for v in value.values()):
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def aws_cli(
    service: str,
    operation: str,
    params: dict[str, Any],
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
) -> str:
    """The shell command (quoted for a POSIX shell) of one boto3 call: `service` and `operation`
    as boto3 names them (s3's API calls are the CLI's s3api; its upload_file is `aws s3 cp`)."""
    if (service, operation) == ("s3", "upload_file"):
        words = ["aws", "s3", "cp", str(params["Filename"]), f"s3://{params['Bucket']}/{params['Key']}"]
    else:
        words = ["aws", CLI_SERVICES.get(service, service), _kebab(operation)]
        for name, value in params.items():
            words += [f"--{_kebab(name)}", _value(value)]
    for flag, given in (("--region", region), ("--profile", profile), ("--endpoint-url", endpoint_url)):
        if given:
            words += [flag, given]
    return shlex.join(words)
