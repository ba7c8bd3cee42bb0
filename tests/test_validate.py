"""`toolkit validate` and `toolkit schema`: Personalize's rules, each caught; the workshop's CSV passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.personalize.schema import interactions_schema
from toolkit.personalize.validate import validate_csv

runner = CliRunner()
WORKSHOP_CSV = Path(__file__).resolve().parent / "data" / "workshop-interactions.csv"  # a copy of ../shared/reference
HEADER = "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"


def good_rows(users: int = 100, per_user: int = 12, start: int = 1_700_000_000) -> list[str]:
    return [f"u{u},i{(u * 7 + k) % 40},{'Product Added' if k % 2 else 'Product Clicked'},{start + u * 100 + k}" for u in range(users) for k in range(per_user)]


def write_csv(tmp_path, rows: list[str], header: str = HEADER, name: str = "i.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((header + "\n" + "\n".join(rows) + "\n").encode() if isinstance(rows[0] if rows else "", str) else b"")
    return path


def status(report, rule_start: str) -> str:
    return next(c.status for c in report.checks if c.rule.startswith(rule_start))


def test_workshop_csv_passes_every_rule():
    report = validate_csv(WORKSHOP_CSV)
    assert report.valid and report.rows == 9522
    assert report.diagnostics["users"] == 3830 and report.diagnostics["items"] == 50
    assert report.diagnostics["event_types"] == {"Product Added": 3516, "Product Clicked": 3450, "Order Completed": 2556}


def test_a_good_file_passes(tmp_path):
    assert validate_csv(write_csv(tmp_path, good_rows())).valid


@pytest.mark.parametrize(
    "mutate, rule",
    [
        (lambda rows: rows[:999], "at least 1,000 interactions"),
        (lambda rows: [r.rsplit(",", 1)[0] + ",1700000000123" if i == 5 else r for i, r in enumerate(rows)], "TIMESTAMP in epoch seconds"),
        (lambda rows: [r.rsplit(",", 1)[0] + ",soon" if i == 5 else r for i, r in enumerate(rows)], "TIMESTAMP is a long"),
        (lambda rows: ["u" + "x" * 300 + r[r.index(","):] if i == 3 else r for i, r in enumerate(rows)], "USER_ID present"),
        (lambda rows: [",".join([r.split(",")[0], ""] + r.split(",")[2:]) if i == 3 else r for i, r in enumerate(rows)], "ITEM_ID present"),
        (lambda rows: rows + ["u1,i1,Product Added"], "columns per row"),
        (lambda rows: [r.rsplit(",", 1)[0] + ",1700000000" for r in rows], "timestamps vary"),
        (lambda rows: [f"u{i},i{i % 40},E,{1_700_000_000 + i}" for i in range(1000)] + ["u1,i2,E,1700000005"], "at least 25 users with 2+"),
        (lambda rows: [r.replace("Product Added", f"Event {i % 11}") for i, r in enumerate(rows)], "event types + metadata"),
    ],
)
def test_each_rule_catches_its_violation(tmp_path, mutate, rule):
    report = validate_csv(write_csv(tmp_path, mutate(good_rows())))
    assert status(report, rule) == "fail", [c for c in report.checks if c.status == "fail"]
    assert not report.valid
    failed = next(c for c in report.checks if c.rule.startswith(rule))
    if "TIMESTAMP" in rule or "_ID" in rule or "columns" in rule:
        assert failed.examples and failed.examples[0].startswith("line ")


def test_one_percent_rule(tmp_path):
    rows = [f"u{i},i{i % 40},E,{1_700_000_000 + i}" for i in range(5000)] + [f"u{u},i1,E,{1_600_000_000 + u}" for u in range(30)]
    report = validate_csv(write_csv(tmp_path, rows))
    assert status(report, "at least 25 users") == "pass" and status(report, "at least 1% of users") == "fail"


def test_encoding_and_quoting(tmp_path):
    rows = good_rows()
    path = tmp_path / "bad.csv"
    path.write_bytes((HEADER + "\n" + "\n".join(rows[:10])).encode() + b"\nu1,\xff\xfe,E,1700000000\n" + "\n".join(rows[10:]).encode() + b"\n")
    assert status(validate_csv(path), "UTF-8 encoding") == "fail"
    quoted = write_csv(tmp_path, rows, header='"USER_ID","ITEM_ID","EVENT_TYPE","TIMESTAMP"', name="quoted.csv")
    assert status(validate_csv(quoted), "header") == "fail"
    stray = write_csv(tmp_path, rows[:5] + ['u1,"i1,E,1700000000'] + rows[5:], name="stray.csv")
    report = validate_csv(stray)
    assert status(report, "one record per line") == "fail" and not report.valid
    assert next(c for c in report.checks if c.rule == "one record per line").examples[0].startswith("line 7:")


def test_header_must_match_the_schema(tmp_path):
    schema = tmp_path / "s.avsc"
    schema.write_text(json.dumps(interactions_schema(["USER_ID", "ITEM_ID", "TIMESTAMP"])))
    report = validate_csv(write_csv(tmp_path, good_rows()), schema)
    assert status(report, "header") == "fail"
    missing = write_csv(tmp_path, [r.rsplit(",", 1)[0] for r in good_rows()], header="USER_ID,ITEM_ID,EVENT_TYPE", name="m.csv")
    assert status(validate_csv(missing), "header") == "fail"


def test_metadata_columns_limit(tmp_path):
    header = HEADER + ",A,B,C,D,E,F"
    rows = [r + ",a,b,c,d,e,f" for r in good_rows()]
    assert status(validate_csv(write_csv(tmp_path, rows, header=header)), "metadata columns") == "fail"


def test_diagnostics_numbers(tmp_path):
    rows = ["u1,i1,E,1700000000", "u1,i1,E,1700000000", "u1,i1,E,1700000100", "u2,i2,E,1700000200"]
    diagnostics = validate_csv(write_csv(tmp_path, rows)).diagnostics
    assert diagnostics["rows"] == 4 and diagnostics["users"] == 2 and diagnostics["items"] == 2
    assert diagnostics["duplicate_user_item_timestamp"] == 1
    assert diagnostics["repeat_consumption_rate"] == 0.5
    assert diagnostics["time_span"]["days"] == round(200 / 86400, 1)


def test_cli_exit_codes_and_json(tmp_path):
    assert runner.invoke(app, ["validate", str(WORKSHOP_CSV)]).exit_code == 0
    bad = write_csv(tmp_path, good_rows()[:10])
    result = runner.invoke(app, ["validate", str(bad), "--json"])
    assert result.exit_code == 1 and json.loads(result.output)["valid"] is False
    missing = runner.invoke(app, ["validate", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    (tmp_path / "empty.csv").write_text("")
    assert runner.invoke(app, ["validate", str(tmp_path / "empty.csv")]).exit_code == 2
    (tmp_path / "bad.avsc").write_text("{not json")
    result = runner.invoke(app, ["validate", str(WORKSHOP_CSV), "--schema", str(tmp_path / "bad.avsc")])
    assert result.exit_code == 2 and "not JSON" in result.output


def test_schema_command_matches_csv_columns(tmp_path):
    result = runner.invoke(app, ["schema", str(WORKSHOP_CSV), "--out", str(tmp_path / "s.avsc")])
    assert result.exit_code == 0
    schema = json.loads((tmp_path / "s.avsc").read_text())
    assert schema["name"] == "Interactions" and schema["namespace"] == "com.amazonaws.personalize.schema"
    assert [f["name"] for f in schema["fields"]] == ["USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"]
    assert {f["name"]: f["type"] for f in schema["fields"]}["TIMESTAMP"] == "long"
    assert validate_csv(WORKSHOP_CSV, tmp_path / "s.avsc").valid
