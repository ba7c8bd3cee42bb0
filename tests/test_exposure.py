"""Nothing exposed: personal data stays out of the Users dataset (by name and by the shape of its
values, whatever the number of users, unless asked for by name); explore prints no write key and
no terminal control sequence from the data."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from tests.helpers import track, write_log
from toolkit.cli import app

runner = CliRunner()
USERS = 6_000  # 5% of them is 300: a name with 200 distinct values passes the "few values" rule


def identify(number: int) -> dict:
    traits = {
        "firstName": f"First{number % 200}",
        "last_name": f"Last{number % 150}",
        "Email Address": f"user{number}@example.com",
        "contact": f"person{number % 100}@mail.example.org",  # an email by its values alone
        "backup": f"+1 555-{number % 90:03d}-{number % 9000:04d}",  # a phone number by its values
        "city": ["Lyon", "Oslo", "Pune"][number % 3],
        "zip": f"{number % 40:05d}",
        "plan": ["gold", "silver"][number % 2],
        "age": 20 + number % 50,
        "signup_day": f"2026-11-{1 + number % 28:02d}",  # a date, not a phone number
        "account_code": f"{10_000_000 + number % 30}",  # digits, an id: not a phone number
    }
    return {
        "type": "identify",
        "userId": f"u{number}",
        "traits": traits,
        "timestamp": "2026-11-01T09:00:00.000Z",
        "receivedAt": "2026-11-01T09:00:00.000Z",
        "messageId": f"i{number}",
    }


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("personal")
    lines = [identify(n) for n in range(USERS)]
    lines += [track(f"t{n}", user_id=f"u{n % 60}", sku=f"s{n % 40}") for n in range(3_000)]
    write_log(root, "a.gz", lines)
    return root


def header_of(path) -> list[str]:
    with open(path, newline="") as handle:
        return next(csv.reader(handle))


PERSONAL = ["Email Address", "backup", "city", "contact", "firstName", "last_name", "zip"]


def test_personal_data_is_left_out_of_the_users_dataset_and_said_so(logs, tmp_path):
    users = tmp_path / "users.csv"
    result = runner.invoke(
        app, ["transform", str(logs), "--out", str(tmp_path / "i.csv"), "--users", str(users)]
    )
    assert result.exit_code in (0, 1), result.output
    assert header_of(users) == ["USER_ID", "ACCOUNT_CODE", "AGE", "PLAN", "SIGNUP_DAY"]
    line = next(line for line in result.output.splitlines() if "left out as personal data: " in line)
    assert sorted(line.split("left out as personal data: ")[1].strip().split(", ")) == PERSONAL
    text = users.read_text()
    assert "@" not in text and "First1" not in text and "555-" not in text
    summary = json.loads(
        runner.invoke(
            app, ["transform", str(logs), "--out", str(tmp_path / "i.csv"), "--users", str(users), "--json"]
        ).output
    )
    assert sorted(summary["users_dataset"]["left_out_as_personal_data"]) == PERSONAL


def test_user_fields_is_the_explicit_override(logs, tmp_path):
    users = tmp_path / "users.csv"
    result = runner.invoke(
        app,
        [
            "transform",
            str(logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--users",
            str(users),
            "--user-fields",
            "Email Address,plan",
        ],
    )
    assert result.exit_code in (0, 1), result.output
    assert header_of(users) == ["USER_ID", "EMAIL_ADDRESS", "PLAN"]
    with open(users, newline="") as handle:
        assert {row["EMAIL_ADDRESS"] for row in csv.DictReader(handle)} >= {"user1@example.com"}


HOSTILE = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J\x1b[H\x9b31m\x07\x08\x7fshown"


@pytest.fixture
def hostile_logs(tmp_path):
    lines = [
        track(f"m{n}", event=f"Clicked {HOSTILE}", writeKey="wk-SECRET-123", context={"note": HOSTILE})
        for n in range(5)
    ]
    write_log(tmp_path / "logs", "a.gz", lines)
    return tmp_path / "logs"


@pytest.mark.parametrize("output_format", ["table", "csv", "json"])
@pytest.mark.parametrize(
    "sql", [None, "SELECT * FROM segment_logs", "SELECT writeKey, event FROM segment_logs"]
)
def test_explore_prints_no_write_key_and_no_control_sequence(hostile_logs, output_format, sql):
    args = ["explore", str(hostile_logs), "--format", output_format] + (["--sql", sql] if sql else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "wk-SECRET-123" not in result.output
    controls = [c for c in result.output if (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) < 0xA0]
    assert controls == []
    if output_format != "table":  # a table may leave the column out, to fit
        assert "Clicked ]52;c;" in result.output  # the printable rest of the value is kept
