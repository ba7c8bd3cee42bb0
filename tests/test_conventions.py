"""The conventions of the tools people already use: one-line usage errors, exit codes kept under
pipes, AWS options before the verb and from AWS_PROFILE/AWS_REGION, a batch check that survives
a bad account, --dry-run, --json and --quiet everywhere, examples in every --help."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from tests.terminal import TOOLKIT
from toolkit.cli import app

runner = CliRunner()
VALID_CSV = Path(__file__).resolve().parent / "data" / "workshop-interactions.csv"


def test_an_unknown_global_option_is_one_line():
    result = subprocess.run([TOOLKIT, "--bogus"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: No such option: --bogus (see 'toolkit --help')"]


def closed_pipe_exit(args: list[str]) -> int:
    """The exit code of `toolkit ARGS` whose reader goes away before it prints (as `| head -1`)."""
    process = subprocess.Popen([TOOLKIT, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    process.stdout.close()
    return process.wait(timeout=120)


def test_exit_codes_are_the_results_under_a_closed_pipe(tmp_path):
    invalid = tmp_path / "millis.csv"
    invalid.write_text(
        "USER_ID,ITEM_ID,TIMESTAMP\n" + "".join(f"u{i},i{i % 7},{1700000000000 + i}\n" for i in range(2000))
    )
    assert closed_pipe_exit(["validate", str(VALID_CSV)]) == 0
    assert closed_pipe_exit(["validate", str(invalid)]) == 1
    assert closed_pipe_exit(["validate", str(VALID_CSV), "--json"]) == 0


def test_an_unknown_aws_profile_is_named(tmp_path):
    result = runner.invoke(
        app,
        ["transform", "s3://bucket/logs/", "--out", str(tmp_path / "i.csv")],
        env={"AWS_PROFILE": "nosuch", "AWS_CONFIG_FILE": "/dev/null"},
    )
    assert result.exit_code == 2
    assert "AWS profile 'nosuch' not found" in result.output and "None" not in result.output


@pytest.fixture()
def aws_config(tmp_path):
    """An AWS config file with a profile in eu-west-1 (moto takes any credentials)."""
    config = tmp_path / "config"
    config.write_text(
        "[profile ws]\nregion = eu-west-1\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    return {"AWS_CONFIG_FILE": str(config), "AWS_DEFAULT_REGION": None, "AWS_REGION": None}


def region_line(output: str) -> str:
    [account] = json.loads(output)
    return next(line["detail"] for line in account["lines"] if line["name"] == "region")


def test_check_reports_the_profiles_region_and_aws_region(moto, aws_config):
    before_verb = runner.invoke(
        app, ["--profile", "ws", "--endpoint-url", moto, "check", "--skip-segment", "--json"], env=aws_config
    )
    assert region_line(before_verb.stdout) == "eu-west-1"
    from_env = runner.invoke(
        app,
        ["check", "--endpoint-url", moto, "--skip-segment", "--json"],
        env={**aws_config, "AWS_PROFILE": "ws", "AWS_REGION": "us-west-2"},
    )
    assert region_line(from_env.stdout) == "us-west-2"
    flag_wins = runner.invoke(
        app,
        [
            "--region",
            "us-west-2",
            "check",
            "--region",
            "eu-central-1",
            "--endpoint-url",
            moto,
            "--skip-segment",
            "--json",
        ],
        env=aws_config,
    )
    assert region_line(flag_wins.stdout) == "eu-central-1"


def test_a_bad_account_is_a_failed_row_and_the_rest_are_checked(moto, aws_config, tmp_path):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("profile,name\nnosuch,attendee-typo\nws,attendee-1\n")
    result = runner.invoke(
        app,
        ["check", "--accounts", str(accounts), "--endpoint-url", moto, "--skip-segment", "--json"],
        env=aws_config,
    )
    assert result.exit_code == 1
    rows = {row["account"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"attendee-typo", "attendee-1"}
    [typo] = rows["attendee-typo"]["lines"]
    assert typo["status"] == "fail" and "'nosuch' not found" in typo["detail"]
    assert rows["attendee-1"]["account_id"]  # checked all the same
    text = runner.invoke(
        app, ["check", "--accounts", str(accounts), "--endpoint-url", moto, "--skip-segment"], env=aws_config
    )
    assert "fix attendee-typo: credentials: correct the row in the accounts file" in " ".join(
        text.stdout.split()
    )


def test_a_missing_source_bucket_gets_a_fix_naming_it(moto):
    result = runner.invoke(
        app,
        [
            "check",
            "--endpoint-url",
            moto,
            "--skip-segment",
            "--json",
            "--source",
            "s3://no-such-logs/segment-logs/",
        ],
    )
    [account] = json.loads(result.stdout)
    [source] = [line for line in account["lines"] if line["name"] == "source logs"]
    assert source["status"] == "fail" and "no-such-logs does not exist" in source["detail"]
    assert "no-such-logs" in source["fix"] and "permissions" not in source["fix"]


def test_fix_dry_run_creates_nothing_and_says_what_it_would(moto):
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1")
    result = runner.invoke(app, ["check", "--endpoint-url", moto, "--skip-segment", "--fix", "--dry-run"])
    assert result.exit_code == 1
    text = " ".join(result.stdout.split())
    assert "would create s3://personalize-data-" in text and "would create Athena database segment" in text
    assert not s3.list_buckets()["Buckets"]
    assert (
        boto3.client("glue", endpoint_url=moto, region_name="us-east-1").get_databases()["DatabaseList"] == []
    )
    refused = runner.invoke(app, ["check", "--endpoint-url", moto, "--dry-run"])
    assert refused.exit_code == 2 and "--dry-run goes with --fix" in refused.output


def test_every_verb_has_json_quiet_and_examples_in_help_that_fits_80_columns():
    import typer.main

    for name, command in typer.main.get_command(app).commands.items():
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {"--json", "--quiet"} <= options, name
        shown = runner.invoke(app, [name, "--help"], env={"COLUMNS": "80"}).stdout
        assert re.search(r"Examples:\n +toolkit ", shown), name
        assert "…" not in shown and all(len(line) <= 80 for line in shown.splitlines()), name


def test_schema_never_replaces_a_file_without_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "interactions.avsc").write_text("mine")
    refused = runner.invoke(app, ["schema"])
    assert refused.exit_code == 2 and "give --out interactions.avsc to replace it" in refused.output
    assert (tmp_path / "interactions.avsc").read_text() == "mine"
    replaced = runner.invoke(app, ["schema", "--out", "interactions.avsc", "--json"])
    assert replaced.exit_code == 0 and json.loads(replaced.stdout)["written_to"] == "interactions.avsc"
    assert json.loads((tmp_path / "interactions.avsc").read_text())["name"] == "Interactions"


def test_generate_dry_run_writes_nothing_and_says_how_much(tmp_path):
    from tests.helpers import read_messages

    args = ["generate", "--date", "2026-11-01", "--users-per-day", "50", "--seed", "3"]
    dry = runner.invoke(app, [*args, "--days", "5", "--out", str(tmp_path / "dry"), "--dry-run", "--json"])
    assert dry.exit_code == 0 and not (tmp_path / "dry").exists()
    found = json.loads(dry.stdout)
    real = runner.invoke(app, [*args, "--days", "1", "--out", str(tmp_path / "real")])
    assert real.exit_code == 0
    first_day = read_messages(tmp_path / "real")
    assert found["first_day_messages"] == len(first_day) and found["messages"] == 5 * len(first_day)
    assert found["files"] == 5 * len({path for path, _ in first_day}) and found["to"] == [
        str(tmp_path / "dry")
    ]
    text = runner.invoke(app, [*args, "--days", "5", "--out", str(tmp_path / "dry"), "--dry-run"]).stdout
    assert f"would write about {5 * len(first_day):,} messages" in " ".join(text.split())
    assert "nothing was written" in text and not (tmp_path / "dry").exists()
