"""`toolkit validate` and `toolkit schema`: Personalize's rules, each caught; the workshop's CSV passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.personalize.schema import interactions_schema
from toolkit.personalize.validate import validate, validate_csv

runner = CliRunner()
WORKSHOP_CSV = (
    Path(__file__).resolve().parent / "data" / "workshop-interactions.csv"
)  # a copy of ../shared/reference
HEADER = "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"


def good_rows(users: int = 100, per_user: int = 12, start: int = 1_700_000_000) -> list[str]:
    return [
        f"u{u},i{(u * 7 + k) % 40},{'Product Added' if k % 2 else 'Product Clicked'},{start + u * 100 + k}"
        for u in range(users)
        for k in range(per_user)
    ]


def write_csv(tmp_path, rows: list[str], header: str = HEADER, name: str = "i.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(
        (header + "\n" + "\n".join(rows) + "\n").encode() if isinstance(rows[0] if rows else "", str) else b""
    )
    return path


def status(report, rule_start: str) -> str:
    return next(c.status for c in report.checks if c.rule.startswith(rule_start))


def test_workshop_csv_passes_every_rule():
    report = validate_csv(WORKSHOP_CSV)
    assert report.valid and report.rows == 9522
    assert report.diagnostics["users"] == 3830 and report.diagnostics["items"] == 50
    assert report.diagnostics["event_types"] == {
        "Product Added": 3516,
        "Product Clicked": 3450,
        "Order Completed": 2556,
    }


def test_a_good_file_passes(tmp_path):
    assert validate_csv(write_csv(tmp_path, good_rows())).valid


@pytest.mark.parametrize(
    "mutate, rule",
    [
        (lambda rows: rows[:999], "at least 1,000 interactions"),
        (
            lambda rows: [
                r.rsplit(",", 1)[0] + ",1700000000123" if i == 5 else r for i, r in enumerate(rows)
            ],
            "TIMESTAMP in epoch seconds",
        ),
        (
            lambda rows: [r.rsplit(",", 1)[0] + ",soon" if i == 5 else r for i, r in enumerate(rows)],
            "TIMESTAMP is a long",
        ),
        (
            lambda rows: ["u" + "x" * 300 + r[r.index(",") :] if i == 3 else r for i, r in enumerate(rows)],
            "USER_ID present",
        ),
        (
            lambda rows: [
                ",".join([r.split(",")[0], ""] + r.split(",")[2:]) if i == 3 else r
                for i, r in enumerate(rows)
            ],
            "ITEM_ID present",
        ),
        (lambda rows: rows + ["u1,i1,Product Added"], "columns per row"),
        (lambda rows: [r.rsplit(",", 1)[0] + ",1700000000" for r in rows], "timestamps vary"),
        (
            lambda rows: (
                [f"u{i},i{i % 40},E,{1_700_000_000 + i}" for i in range(1000)] + ["u1,i2,E,1700000005"]
            ),
            "at least 25 users with 2+",
        ),
        (
            lambda rows: [r.replace("Product Added", f"Event {i % 11}") for i, r in enumerate(rows)],
            "event types + metadata",
        ),
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
    rows = [f"u{i},i{i % 40},E,{1_700_000_000 + i}" for i in range(5000)] + [
        f"u{u},i1,E,{1_600_000_000 + u}" for u in range(30)
    ]
    report = validate_csv(write_csv(tmp_path, rows))
    assert status(report, "at least 25 users") == "pass" and status(report, "at least 1% of users") == "fail"


def test_encoding_and_quoting(tmp_path):
    rows = good_rows()
    path = tmp_path / "bad.csv"
    path.write_bytes(
        (HEADER + "\n" + "\n".join(rows[:10])).encode()
        + b"\nu1,\xff\xfe,E,1700000000\n"
        + "\n".join(rows[10:]).encode()
        + b"\n"
    )
    assert status(validate_csv(path), "UTF-8 encoding") == "fail"
    quoted = write_csv(
        tmp_path, rows, header='"USER_ID","ITEM_ID","EVENT_TYPE","TIMESTAMP"', name="quoted.csv"
    )
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
    missing = write_csv(
        tmp_path,
        [r.rsplit(",", 1)[0] for r in good_rows()],
        header="USER_ID,ITEM_ID,EVENT_TYPE",
        name="m.csv",
    )
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


# Users and Items datasets, the rules across datasets, and diagnose.py's warnings

USERS_HEADER = "USER_ID,PLAN,AGE"
ITEMS_HEADER = "ITEM_ID,PRICE,CATEGORY_L1,CREATION_TIMESTAMP"


def users_rows(count: int = 100) -> list[str]:
    return [f"u{u},{'gold|silver' if u % 3 else 'bronze'},{20 + u % 50}" for u in range(count)]


def items_rows(count: int = 40) -> list[str]:
    return [
        f"i{i},{5 + i * 0.5},{'Shoes' if i % 2 else 'Hats'},{1_600_000_000 + i * 86400}" for i in range(count)
    ]


def write_schema(path: Path, name: str, fields: list[dict]) -> Path:
    path.write_text(
        json.dumps(
            {
                "type": "record",
                "name": name,
                "namespace": "com.amazonaws.personalize.schema",
                "fields": fields,
                "version": "1.0",
            }
        )
    )
    return path


def test_the_dataset_is_told_by_its_header(tmp_path):
    assert validate_csv(write_csv(tmp_path, users_rows(), USERS_HEADER, "u.csv")).dataset == "users"
    assert validate_csv(write_csv(tmp_path, items_rows(), ITEMS_HEADER, "it.csv")).dataset == "items"
    assert validate_csv(write_csv(tmp_path, good_rows())).dataset == "interactions"


def test_good_users_and_items_pass(tmp_path):
    users = validate_csv(write_csv(tmp_path, users_rows(), USERS_HEADER, "u.csv"))
    items = validate_csv(write_csv(tmp_path, items_rows(), ITEMS_HEADER, "it.csv"), domain="ecommerce")
    assert users.valid and users.rows == 100, [c for c in users.checks if c.status == "fail"]
    assert items.valid and items.rows == 40, [c for c in items.checks if c.status == "fail"]
    assert users.diagnostics["PLAN"] == {"missing": 0.0, "distinct": 2}


@pytest.mark.parametrize(
    "header, rows, rule",
    [
        ("USER_ID", [f"u{u}" for u in range(10)], "metadata columns"),  # no metadata field
        (
            "USER_ID," + ",".join(f"F{i}" for i in range(26)),
            [f"u{u}," + ",".join("x" * 26) for u in range(10)],
            "metadata columns",
        ),
        (USERS_HEADER, users_rows()[:5] + ["u" + "x" * 300 + ",gold,30"], "USER_ID present"),
        (USERS_HEADER, users_rows()[:5] + ["u99," + "y" * 1001 + ",30"], "PLAN values at most 1000"),
        (USERS_HEADER, users_rows()[:5] + ["u99,gold"], "columns per row"),
        (
            "PLAN,AGE",
            ["gold,30"],
            "header and schema",
        ),  # no key: told as interactions, required columns missing
        (
            ITEMS_HEADER,
            items_rows()[:5] + ["i99,5.0,Hats,1600000000123"],
            "CREATION_TIMESTAMP in epoch seconds",
        ),
        (ITEMS_HEADER, items_rows()[:5] + ["i99,5.0,Hats,yesterday"], "CREATION_TIMESTAMP is a long"),
    ],
)
def test_each_users_and_items_rule_catches_its_violation(tmp_path, header, rows, rule):
    report = validate_csv(write_csv(tmp_path, rows, header, "d.csv"))
    assert status(report, rule) == "fail" and not report.valid, [
        c for c in report.checks if c.status == "fail"
    ]


def test_a_schema_beside_the_csv_is_used_and_its_types_checked(tmp_path):
    path = write_csv(tmp_path, users_rows()[:5] + ["u99,gold,old"], USERS_HEADER, "users.csv")
    fields = [
        {"name": "USER_ID", "type": "string"},
        {"name": "PLAN", "type": ["null", "string"], "categorical": True},
        {"name": "AGE", "type": ["null", "float"]},
    ]
    write_schema(tmp_path / "users.avsc", "Users", fields)
    report = validate_csv(path)
    assert "users.avsc" in report.checks[0].detail and status(report, "AGE is a float") == "fail"
    write_schema(tmp_path / "users.avsc", "Users", fields[:2])
    assert (
        status(validate_csv(path), "header and schema") == "fail"
    )  # the header has a column the schema lacks
    write_schema(
        tmp_path / "users.avsc", "Users", [*fields[:2], {"name": "AGE", "type": "string", "textual": True}]
    )
    assert "only an Items dataset" in next(
        c.detail for c in validate_csv(path).checks if c.rule == "header and schema"
    )


def test_ecommerce_items_need_price_and_category(tmp_path):
    path = write_csv(tmp_path, [f"i{i},Shoes" for i in range(10)], "ITEM_ID,CATEGORY_L1", "items.csv")
    assert status(validate_csv(path, domain="ecommerce"), "ECOMMERCE domain: Items") == "fail"
    assert validate_csv(path).valid  # outside the domain, PRICE is not required


def test_repeated_ids_and_empty_categories_are_warnings(tmp_path):
    report = validate_csv(write_csv(tmp_path, users_rows() + ["u1,gold||silver,30"], USERS_HEADER, "u.csv"))
    assert (
        report.valid
        and status(report, "one row per USER_ID") == "warn"
        and status(report, "PLAN: no empty value") == "warn"
    )


def test_missing_and_cold_users_and_items_across_datasets(tmp_path):
    interactions = [
        f"u{u},i{(u + k) % 50},E,{1_700_000_000 + u * 10 + k}" for u in range(100) for k in range(12)
    ]
    inter = write_csv(tmp_path, interactions, name="i.csv")
    users = write_csv(
        tmp_path, [f"u{u},gold,30" for u in range(20, 130)], USERS_HEADER, "u.csv"
    )  # u0-u19 missing, u100-u129 cold
    items = write_csv(tmp_path, [f"i{i},1.0,Hats,1600000000" for i in range(50)], ITEMS_HEADER, "it.csv")
    reports = validate(inter, users=users, items=items).reports
    assert [r.dataset for r in reports] == ["interactions", "users", "items"]
    cross = {c.rule: c for c in reports[0].checks}
    # expected shares computed from the rows written above
    missing = sum(1 for row in interactions if int(row.split(",")[0][1:]) < 20) / len(interactions)
    assert cross["interactions whose user is missing from Users at most 10%"].detail.startswith(
        f"{missing:.1%}"
    )
    assert cross["interactions whose user is missing from Users at most 10%"].status == "warn"
    assert cross["cold users (Users rows with no interaction) at most 10%"].detail.startswith(
        f"{30 / 110:.1%}"
    )
    assert cross["interactions whose item is missing from Items at most 10%"].status == "pass"
    assert cross["cold items (Items rows with no interaction) at most 10%"].status == "pass"
    result = runner.invoke(
        app, ["validate", str(inter), "--users", str(users), "--items", str(items), "--json"]
    )
    assert result.exit_code == 0 and [d["dataset"] for d in json.loads(result.stdout)["datasets"]] == [
        "interactions",
        "users",
        "items",
    ]
    result = runner.invoke(app, ["validate", str(users), "--items", str(items)])
    assert result.exit_code == 2 and "go with an interactions CSV" in result.output


def test_diagnose_warnings_duplicates_repeats_and_popularity(tmp_path):
    rows = good_rows()
    duplicated = validate_csv(write_csv(tmp_path, rows + rows[:200], name="dup.csv"))
    assert duplicated.valid and status(duplicated, "duplicate (user, item, timestamp) rate") == "warn"
    repeats = [
        f"u{u},i{u % 40},E,{1_700_000_000 + u * 100 + k}" for u in range(100) for k in range(12)
    ]  # each user one item, 12 times
    assert (
        status(validate_csv(write_csv(tmp_path, repeats, name="rep.csv")), "repeated consumption") == "warn"
    )
    # item popularity: counts proportional to rank^-2.5 (head-heavy) and equal counts (a heavy tail,
    # in diagnose.py's words)
    steep = [
        f"u{k % 300},i{rank},E,{1_700_000_000 + rank * 10_000 + k}"
        for rank in range(1, 41)
        for k in range(max(1, int(20_000 * rank**-2.5)))
    ]
    flat = [
        f"u{k % 300},i{rank},E,{1_700_000_000 + rank * 10_000 + k}"
        for rank in range(1, 41)
        for k in range(50)
    ]
    assert "head-heavy" in next(
        c.detail
        for c in validate_csv(write_csv(tmp_path, steep, name="steep.csv")).checks
        if c.rule.startswith("item popularity")
    )
    flat_check = next(
        c
        for c in validate_csv(write_csv(tmp_path, flat, name="flat.csv")).checks
        if c.rule.startswith("item popularity")
    )
    assert flat_check.status == "warn" and "heavy tail" in flat_check.detail


def test_schema_command_types_users_and_items_from_their_values(tmp_path, monkeypatch):
    users = write_csv(tmp_path, users_rows(), USERS_HEADER, "people.csv")
    result = runner.invoke(app, ["schema", str(users), "--out", "-"])
    schema = json.loads(result.stdout)
    assert schema["name"] == "Users" and {
        f["name"]: (f["type"], f.get("categorical", False)) for f in schema["fields"]
    } == {
        "USER_ID": ("string", False),
        "PLAN": (["null", "string"], True),
        "AGE": (["null", "float"], False),
    }
    items = write_csv(
        tmp_path, [r + ",A boot" for r in items_rows()], ITEMS_HEADER + ",PRODUCT_DESCRIPTION", "catalog.csv"
    )
    runner.invoke(app, ["schema", str(items), "--out", str(tmp_path / "catalog.avsc")])
    fields = {f["name"]: f for f in json.loads((tmp_path / "catalog.avsc").read_text())["fields"]}
    assert (
        fields["CREATION_TIMESTAMP"]["type"] == ["null", "long"]
        and fields["PRODUCT_DESCRIPTION"]["textual"]
        and fields["CATEGORY_L1"]["categorical"]
    )
    assert validate_csv(items, domain="ecommerce").valid  # the schema beside it is the one just written
    monkeypatch.chdir(tmp_path)
    default = runner.invoke(app, ["schema", str(users)])
    assert default.exit_code == 0 and (tmp_path / "users.avsc").is_file()


def test_the_line_scan_counts_as_a_line_by_line_reading_would(tmp_path):
    """scan_lines measures chunks with numpy; here, files of awkward lines (blank, quoted, CR, long,
    across chunk borders) against a plain reading of the same bytes, line by line."""
    import random

    from toolkit.personalize.line_scan import scan_lines

    def reference(data: bytes):
        lines = data.split(b"\n")[1:]  # after the header
        if lines and lines[-1] == b"":
            lines.pop()  # the file's final newline ends the last line
        content = sum(1 for line in lines if line.strip())
        longest = max(
            ((i + 2, len(line)) for i, line in enumerate(lines)), key=lambda p: (p[1], -p[0]), default=(0, 0)
        )
        longest = longest if longest[1] else (0, 0)
        open_quotes = [
            f"line {i + 2}: {line[:200].decode('utf-8', 'replace').rstrip()}"
            for i, line in enumerate(lines)
            if line.count(b'"') % 2
        ][:3]
        return content, longest, open_quotes

    rng = random.Random(7)
    pieces = [
        b"",
        b"   ",
        b"\r",
        b'a,"b',
        b'"x","y"',
        b"u1,i1,E,1700000000",
        b"z" * 150,
        b"q" * 300,
        b'"' * 3,
        b"\t \x0c",
    ]
    for case in range(60):
        body = b"\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        data = b"USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP\n" + body + (b"\n" if rng.random() < 0.5 else b"")
        path = tmp_path / f"{case}.csv"
        path.write_bytes(data)
        scan = scan_lines(path, header_bytes=65536, examples=3, chunk_bytes=64)  # many chunk borders
        assert (scan.lines, scan.longest, scan.open_quotes) == reference(data), data
