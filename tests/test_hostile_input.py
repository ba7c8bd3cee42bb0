"""Issue 16: what a hurried user or a hostile input does to every command. Each case is met as a
user meets it (the CLI, or a real process for signals): exit code, one line on stderr, nothing
written or left behind."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tests.helpers import START, gz_lines
from toolkit.aws.s3 import AwsOptions
from toolkit.cli import app
from toolkit.segment.logs import find_log_files
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario

runner = CliRunner()


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def write_log(path: Path, messages: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.writelines(orjson.dumps(m) + b"\n" for m in messages)
    return path


def track(
    event: str, timestamp: str, user: str = "u1", sku: str = "s1", message_id: str | None = None
) -> dict:
    return {
        "type": "track",
        "event": event,
        "userId": user,
        "timestamp": timestamp,
        "receivedAt": timestamp,
        "properties": {"sku": sku},
        "messageId": message_id or f"{user}-{sku}-{timestamp}",
    }


# --- security -----------------------------------------------------------------------------------


def test_s3_keys_that_would_escape_a_download_folder_never_reach_the_disk(s3_bucket, tmp_path, workshop_logs):
    import boto3

    endpoint, bucket = s3_bucket
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    good = next(workshop_logs.glob("segment-logs/*/*/*.gz"))
    escape_name = f"escaped-{os.getpid()}-{time.time_ns()}.gz"
    hostile = [
        f"logs/segment-logs/../../../../../../tmp/{escape_name}",
        f"/tmp/{escape_name}",
        "logs/segment-logs/a/./b.gz",
    ]
    client.upload_file(str(good), bucket, "logs/segment-logs/src/1793491200000/good.gz")
    for key in hostile:
        client.upload_file(str(good), bucket, key)
    for command in (
        ["transform", f"s3://{bucket}/", "--out", str(tmp_path / "i.csv"), "--json"],
        ["explore", f"s3://{bucket}/", "--sql", "SELECT count(*) FROM segment_logs", "--format", "json"],
    ):
        result = runner.invoke(app, [*command, "--endpoint-url", endpoint])
        assert result.exit_code in (0, 1), result.output
        assert not Path("/tmp", escape_name).exists()
    summary = json.loads(
        runner.invoke(
            app,
            [
                "transform",
                f"s3://{bucket}/",
                "--out",
                str(tmp_path / "i.csv"),
                "--json",
                "--endpoint-url",
                endpoint,
            ],
        ).stdout
    )
    # read where they are (nothing is saved locally, so no key can escape): every object is read
    assert summary["refused_objects"] == [] and summary["files"] == 4 and summary["balanced"]
    # where objects are downloaded (the Spark engine's copies), such keys are refused and counted
    with find_log_files(f"s3://{bucket}/", AwsOptions(endpoint_url=endpoint)) as downloaded:
        assert len(downloaded.refused) == 3 and len(downloaded.paths) == 1


# --- data loss ----------------------------------------------------------------------------------


def test_an_output_that_is_an_input_or_a_device_is_refused_before_any_work(workshop_logs, tmp_path):
    log = next(workshop_logs.glob("segment-logs/*/*/*.gz"))
    before = log.read_bytes()
    line = one_line_error(runner.invoke(app, ["transform", str(workshop_logs), "--out", str(log)]))
    assert "is one of the inputs" in line and log.read_bytes() == before
    line = one_line_error(runner.invoke(app, ["transform", str(workshop_logs), "--out", "/dev/full"]))
    assert "not a regular file" in line and Path("/dev/full").is_char_device()
    line = one_line_error(
        runner.invoke(
            app, ["transform", str(workshop_logs), "--out", str(tmp_path / "i.csv"), "--rejects", str(log)]
        )
    )
    assert "is one of the inputs" in line and log.read_bytes() == before
    assert not (tmp_path / "i.csv").exists()


# --- wrong answers ------------------------------------------------------------------------------


def test_transform_exits_1_when_its_csv_fails_personalizes_rules(tmp_path):
    write_log(tmp_path / "logs" / "a.gz", [track("Product Added", "2026-11-01T09:00:00.000Z")])
    result = runner.invoke(
        app, ["transform", str(tmp_path / "logs"), "--out", str(tmp_path / "i.csv"), "--quiet"]
    )
    assert result.exit_code == 1 and result.output == ""


def test_timestamps_become_the_floor_second_and_infinity_is_a_bad_timestamp(tmp_path):
    messages = [
        track("Product Added", "2026-11-01T09:00:04.999999Z", sku="a"),
        track("Product Added", "2026-11-01T09:00:04.9995+00:00", sku="b"),
        track("Product Added", "1969-12-31T23:59:59.5Z", sku="c"),
        track("Product Added", "infinity", sku="d"),
        track("Product Added", "-infinity", sku="e"),
    ]
    write_log(tmp_path / "logs" / "a.gz", messages)
    result = runner.invoke(
        app, ["transform", str(tmp_path / "logs"), "--out", str(tmp_path / "i.csv"), "--json"]
    )
    summary = json.loads(result.stdout)
    rows = (tmp_path / "i.csv").read_text().splitlines()[1:]
    assert sorted(rows) == sorted(
        ["u1,a,Product Added,1793523604", "u1,b,Product Added,1793523604", "u1,c,Product Added,-1"]
    )
    assert summary["filtered"] == {"bad timestamp": 2} and summary["balanced"]


def test_an_event_types_typo_names_the_events_present(workshop_logs, tmp_path):
    result = runner.invoke(
        app,
        ["transform", str(workshop_logs), "--out", str(tmp_path / "i.csv"), "--event-types", "Prodct Added"],
        terminal_width=200,
    )
    assert result.exit_code == 1
    assert "none of --event-types was found" in result.output and "'Product Added'" in result.output


@pytest.mark.parametrize(
    "command", [["transform", "{csv}", "--out", "{tmp}/o.csv"], ["explore", "{csv}", "--sql", "SELECT 1"]]
)
def test_a_csv_given_as_logs_is_named(tmp_path, command):
    csv = tmp_path / "interactions.csv"
    csv.write_text("USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n1,a,b,2\n")
    line = one_line_error(runner.invoke(app, [part.format(csv=csv, tmp=tmp_path) for part in command]))
    assert "is not Segment logs" in line and "USER_ID" in line
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("out", ["s3:/bucket/x", "S3://bucket", "s3:bucket"])
def test_an_s3_near_miss_is_an_error_not_a_local_folder(tmp_path, out, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(
        runner.invoke(app, ["generate", "--date", "2026-11-01", "--days", "1", "--out", out])
    )
    assert "looks like an S3 URL but is not one" in line
    assert list(tmp_path.iterdir()) == []


# --- one line, never a traceback -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        (["generate", "--date", "[bold]2026[/]", "--days", "1"], "'[bold]2026[/]' is not a date"),
        (["generate", "--date", "[/x]", "--days", "1"], "'[/x]' is not a date"),
        (["transform", "[red]logs[/red]"], "no such file or folder: [red]logs[/red]"),
        (["transform", "logs", "--endpoint-url", "localhost:9000"], "needs a scheme"),
        (["collector", "--port", "99999", "--write-key", "web=k"], "less than or equal to 65535"),
        (["generate", "--date", "2026-11-01", "--dys", "3"], "No such option: --dys"),
        (["generate", "--date", "2026-11-01", "--days", "1", "--sink", "bogus"], "'bogus' is not one of"),
        (["generat"], "No such command 'generat'"),
    ],
)
def test_mistakes_are_one_line_exit_2_shown_as_typed(args, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(runner.invoke(app, args, terminal_width=300))
    assert expected in line


def test_a_swapped_write_key_is_not_printed(tmp_path):
    secret = "SeCrEtWrItEkEy0123456789"
    result = runner.invoke(
        app,
        [
            "generate",
            "--date",
            "2026-11-01",
            "--days",
            "1",
            "--sink",
            "segment",
            "--write-key",
            f"{secret}=web",
        ],
    )
    line = one_line_error(result)
    assert secret not in result.output and "looks swapped" in line


def test_spark_engine_without_pyspark_is_one_line(workshop_logs, tmp_path, monkeypatch):
    monkeypatch.setitem(
        sys.modules, "pyspark", None
    )  # import pyspark now fails, as where it is not installed
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    line = one_line_error(
        runner.invoke(
            app, ["transform", str(workshop_logs), "--out", str(tmp_path / "i.csv"), "--engine", "spark"]
        )
    )
    assert "needs PySpark" in line


def test_an_unexpected_exception_is_one_line_naming_a_log_with_the_traceback_exit_3(monkeypatch, tmp_path):
    import toolkit.personalize.validate as validate

    def broken(*args, **kwargs):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(validate, "validate_csv", broken)
    (tmp_path / "x.csv").write_text("USER_ID,ITEM_ID,TIMESTAMP\n")
    line = one_line_error(runner.invoke(app, ["validate", str(tmp_path / "x.csv")]), code=3)
    log = Path(line.rsplit(" ", 1)[-1])
    assert (
        "a bug" in line
        and "RuntimeError: something nobody expected" in log.read_text()
        and "Traceback" in log.read_text()
    )
    log.unlink()


def test_an_explore_db_that_fails_is_not_left_behind(tmp_path):
    db = tmp_path / "logs.duckdb"
    one_line_error(runner.invoke(app, ["explore", str(tmp_path / "missing"), "--db", str(db)]))
    (tmp_path / "bad.csv").write_text("x\n")
    one_line_error(runner.invoke(app, ["explore", str(tmp_path / "bad.csv"), "--db", str(db)]))
    assert list(tmp_path.glob("logs.duckdb*")) == []


@pytest.mark.slow
def test_ctrl_c_during_transform_exits_130_and_leaves_nothing(tmp_path):
    logs, spare = tmp_path / "logs", tmp_path / "tmp"
    spare.mkdir()
    generate(load_scenario(), START, 25, 3, LocalSink(logs), workers=2)
    environment = dict(os.environ, TMPDIR=str(spare))
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "transform", str(logs), "--out", str(tmp_path / "i.csv")],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # the sign that the transform is under way: the DuckDB engine's folder for salvaged files, made
    # in its work folder as it starts classifying the messages
    deadline = time.monotonic() + 300
    while not any(spare.glob("toolkit-transform-*/salvaged")):
        assert process.poll() is None, (
            f"the transform ended before it was interrupted: {process.communicate()}"
        )
        assert time.monotonic() < deadline, "the transform did not start classifying in 300 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
    assert list(spare.iterdir()) == [] and not (tmp_path / "i.csv").exists()
    assert not list(tmp_path.glob(".i.csv.partial*"))


# --- the user's conventions -----------------------------------------------------------------------


def test_version_and_short_help():
    assert runner.invoke(app, ["--version"]).output.startswith("toolkit ")
    for command in (
        "generate",
        "transform",
        "explore",
        "validate",
        "workshop",
        "collector",
        "check",
        "schema",
    ):
        result = runner.invoke(app, [command, "-h"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_choices_are_listed_in_help():
    result = runner.invoke(app, ["transform", "-h"], terminal_width=200)
    assert "duckdb" in result.output and "spark" in result.output and "product_id" in result.output


def test_json_summaries_are_one_document(workshop_logs, tmp_path):
    generated = runner.invoke(
        app,
        [
            "generate",
            "--date",
            "2026-11-01",
            "--days",
            "1",
            "--users-per-day",
            "30",
            "--out",
            str(tmp_path / "g"),
            "--json",
        ],
    )
    document = json.loads(generated.stdout)
    files = list((tmp_path / "g").glob("segment-logs/*/*/*.gz"))
    assert document["files"] == len(files) and document["messages"] == sum(len(gz_lines(f)) for f in files)
    transformed = json.loads(
        runner.invoke(
            app, ["transform", str(workshop_logs), "--out", str(tmp_path / "i.csv"), "--json"]
        ).stdout
    )
    assert (
        transformed["balanced"]
        and transformed["interactions"] == len((tmp_path / "i.csv").read_text().splitlines()) - 1
    )
    explored = json.loads(runner.invoke(app, ["explore", str(workshop_logs), "--format", "json"]).stdout)
    assert [q["title"] for q in explored][0] and len(explored) == 3


def test_the_sample_query_is_readable_at_80_columns(workshop_logs):
    result = runner.invoke(app, ["explore", str(workshop_logs)], terminal_width=80)
    lines = result.output.splitlines()
    assert result.exit_code == 0 and max(len(line) for line in lines) <= 80
    assert len(lines) < 200  # 20 sample rows and two small tables, not thousands of folded lines
    assert "one row per column" in result.output  # the sample shown as a row per column, not cut
