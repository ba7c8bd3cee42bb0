"""`toolkit transform`: the Glue job's semantics, right on real Segment data, every message counted."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tests.helpers import DAY_FOLDER, rows_of, track, write_log
from toolkit.cli import app
from toolkit.transforming.run import transform
from toolkit.transforming.summary import TransformOptions

runner = CliRunner()
REFERENCE = Path(__file__).resolve().parent / "data"  # copies of ../shared/reference


def run(tmp_path, **kwargs):
    result = transform(str(tmp_path / "logs"), out=str(tmp_path / "out.csv"), **kwargs)
    summary = result.summary
    assert summary.messages_read == summary.accounted
    return summary, rows_of(result.written_to)


@pytest.mark.parametrize(
    "stamp, expected",
    [
        ("2019-05-02T03:19:05.398Z", 1556767145),
        ("2019-05-02T03:19:05Z", 1556767145),
        ("2019-05-02T03:19:05.398123+00:00", 1556767145),
        ("2019-05-02T05:19:05.999+02:00", 1556767145),
        ("2019-05-02T03:19:05", 1556767145),
        ("2019-05-01T20:19:05.5-07:00", 1556767145),
    ],
)
def test_any_iso_timestamp_becomes_the_right_epoch_second(tmp_path, stamp, expected):
    write_log(tmp_path / "logs", "a.gz", [track("m1", timestamp=stamp)])
    summary, rows = run(tmp_path)
    assert [int(r["TIMESTAMP"]) for r in rows] == [expected]


def test_unparseable_timestamps_are_counted_not_guessed(tmp_path):
    write_log(
        tmp_path / "logs",
        "a.gz",
        [track("m1", timestamp="yesterday"), track("m2", timestamp=None), track("m3")],
    )
    summary, rows = run(tmp_path)
    assert len(rows) == 1 and summary.filtered["bad timestamp"] == 2


def test_duplicates_by_message_id_are_removed_and_counted(tmp_path):
    write_log(tmp_path / "logs", "a.gz", [track("m1"), track("m1"), track("m2", sku="s2")])
    write_log(tmp_path / "logs", "b.gz", [track("m1")])
    summary, rows = run(tmp_path)
    assert sorted(r["ITEM_ID"] for r in rows) == ["s1", "s2"]
    assert summary.duplicates == 2 and summary.messages_written == 2


def test_the_first_received_copy_is_kept_and_messages_without_an_id_are_their_own(tmp_path):
    late, early = "2019-05-02T03:30:00.000Z", "2019-05-02T03:20:00.000Z"
    write_log(
        tmp_path / "logs",
        "a.gz",
        [
            track("m1", sku="late", receivedAt=late),
            track(None, sku="x"),
            {**track("", sku="y"), "messageId": None},
        ],
    )
    write_log(tmp_path / "logs", "b.gz", [track("m1", sku="early", receivedAt=early), track(None, sku="x")])
    summary, rows = run(tmp_path)
    assert sorted(r["ITEM_ID"] for r in rows) == ["early", "x", "x", "y"]
    assert summary.duplicates == 1


def test_products_array_gives_one_interaction_per_product(tmp_path):
    order = track("m1", event="Order Completed", sku=None)
    order["properties"] = {
        "order_id": "o1",
        "products": [{"sku": "a", "product_id": "p1"}, {"sku": "b", "product_id": "p2"}, {"name": "no sku"}],
    }
    write_log(tmp_path / "logs", "a.gz", [order, track("m2", sku=None, properties={"product_id": "p3"})])
    summary, rows = run(tmp_path)
    assert sorted(r["ITEM_ID"] for r in rows) == ["a", "b"]
    assert summary.filtered["no item"] == 1
    summary, rows = run(tmp_path, options=TransformOptions(item_field="product_id"))
    assert sorted(r["ITEM_ID"] for r in rows) == ["p1", "p2", "p3"]


def test_numeric_user_id_is_the_same_user_as_the_string(tmp_path):
    write_log(
        tmp_path / "logs",
        "a.gz",
        [
            track("m1", user_id=1234567890),
            track("m2", user_id="1234567890", sku="s2"),
            track("m3", user_id={"id": 1}),
        ],
    )
    summary, rows = run(tmp_path)
    assert {r["USER_ID"] for r in rows} == {"1234567890"}
    assert summary.filtered["no user"] == 1


def test_malformed_lines_are_counted_and_written_with_file_and_line(tmp_path):
    logs = tmp_path / "logs"
    write_log(
        logs,
        "a.gz",
        [
            track("m1"),
            b'{"messageId": "x", bad json',
            b'{"event":"\xff\xfe"}',
            b"[1, 2]",
            b"",
            b"{}",
            track("m2", sku="s2"),
        ],
    )
    full = gzip.compress(b"".join(orjson.dumps(track(f"t{i}", sku=f"t{i}")) + b"\n" for i in range(200)))
    (logs / DAY_FOLDER / "truncated.gz").write_bytes(full[: len(full) // 2])
    (logs / DAY_FOLDER / "empty.gz").write_bytes(b"")
    result = transform(str(logs), out=str(tmp_path / "out.csv"), rejects=str(tmp_path / "rejects.jsonl"))
    summary, where = result.summary, result.written_to
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    by_line = {(r["file"].rsplit("/", 1)[-1], r["line"]): r["reason"] for r in rejects}
    assert by_line[("a.gz", 2)] == "bad JSON"
    assert by_line[("a.gz", 3)] == "not UTF-8"
    assert by_line[("a.gz", 4)] == "not a JSON object"
    assert any(name == "truncated.gz" and "truncated" in reason for (name, _), reason in by_line.items())
    assert summary.rejected == len(rejects) == 4
    assert summary.empty_files == 1 and list(summary.damaged_files) == [
        str(logs / DAY_FOLDER / "truncated.gz")
    ]
    assert summary.filtered["type"] == 1  # the {} line: a JSON object, but no message
    salvaged = [r for r in rows_of(where) if r["ITEM_ID"].startswith("t")]
    assert 0 < len(salvaged) < 200
    assert summary.messages_read == summary.accounted == 2 + 4 + 1 + len(salvaged)


def test_every_reason_is_counted_and_the_sum_balances(tmp_path):
    write_log(
        tmp_path / "logs",
        "a.gz",
        [
            track("m1"),
            {"messageId": "m2", "type": "identify", "userId": "u1", "traits": {}},
            track("m3", event="Page Viewed"),
            track("m4", user_id=None),
            track("m5", sku=None),
            track("m6", timestamp="nope"),
            track("m7", user_id="x" * 300),
            track("m1"),
        ],
    )
    summary, rows = run(tmp_path)
    assert summary.messages_read == 8 and summary.messages_written == 1 and summary.duplicates == 1
    assert summary.filtered == {
        "type": 1,
        "event type": 1,
        "no user": 1,
        "no item": 1,
        "bad timestamp": 1,
        "bad id": 1,
    }


def test_rows_are_ordered_and_runs_diff_clean(tmp_path):
    write_log(
        tmp_path / "logs",
        "a.gz",
        [
            track(f"m{i}", user_id=f"u{i % 3}", sku=f"s{i % 5}", timestamp=f"2019-05-02T03:19:0{i % 4}Z")
            for i in range(40)
        ],
    )
    transform(str(tmp_path / "logs"), out=str(tmp_path / "one.csv"))
    transform(str(tmp_path / "logs"), out=str(tmp_path / "two.csv"))
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    rows = rows_of(tmp_path / "one.csv")
    keys = [(int(r["TIMESTAMP"]), r["USER_ID"], r["ITEM_ID"]) for r in rows]
    assert keys == sorted(keys)
    assert (tmp_path / "one.csv").read_text().splitlines()[0] == "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_equals_an_independent_count_of_generated_logs(workshop_logs, workshop_messages, tmp_path):
    result = transform(str(workshop_logs), out=str(tmp_path / "out.csv"))
    summary, where, report = result.summary, result.written_to, result.validation
    wanted = ("Product Added", "Order Completed", "Product Clicked")
    expected = sorted(
        (
            m["userId"],
            m["properties"]["sku"],
            m["event"],
            int(datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00")).timestamp()),
        )
        for _, m in workshop_messages
        if m["type"] == "track" and m["event"] in wanted
    )
    actual = sorted(
        (r["USER_ID"], r["ITEM_ID"], r["EVENT_TYPE"], int(r["TIMESTAMP"])) for r in rows_of(where)
    )
    assert actual == expected
    assert summary.messages_read == len(workshop_messages) == summary.accounted
    assert report.valid


def test_cli_reports_accounting_and_validation(workshop_logs, tmp_path):
    result = runner.invoke(app, ["transform", str(workshop_logs), "--out", str(tmp_path / "i.csv")])
    assert result.exit_code == 0, result.output
    assert "filtered: event type" in result.output and "passes" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["/no/such/logs"], "no such file or folder"),
        (["{empty}"], "no Segment log files"),
        (["{logs}", "--item-id", "name"], "Invalid value for '--item-id'"),
        (["{logs}", "--out", "/no/such/folder/x.csv"], "--out folder does not exist"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(workshop_logs, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    args = [a.format(empty=tmp_path / "empty", logs=workshop_logs) for a in args]
    result = runner.invoke(app, ["transform", *args])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_real_segment_messages_are_classified(tmp_path):
    """Real messages from analytics.js, analytics-android and analytics-ios, as Segment stores them."""
    lines = (REFERENCE / "segment-examples.jsonl").read_bytes().splitlines()
    write_log(tmp_path / "logs", "real.gz", lines)
    summary, rows = run(
        tmp_path, options=TransformOptions(event_types=("Order Completed", "MyPurchase", "Purchase"))
    )
    assert rows == []
    # web: Order Completed with userId null; mobile: anonymous purchases with no sku either
    assert summary.filtered == {"no user": 3}


def test_users_dataset_holds_each_users_latest_traits_computed_independently(
    workshop_logs, workshop_messages, tmp_path
):
    import json as json_module

    result = runner.invoke(
        app,
        [
            "transform",
            str(workshop_logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--users",
            str(tmp_path / "users.csv"),
            "--json",
        ],
    )
    summary = json_module.loads(result.stdout)["users_dataset"]
    latest: dict = {}
    for message in sorted(
        (m for _, m in workshop_messages if m["type"] == "identify"), key=lambda m: m["timestamp"]
    ):
        latest.setdefault(message["userId"], {}).update(message["traits"])
    rows = {row["USER_ID"]: row for row in rows_of(tmp_path / "users.csv")}
    assert rows.keys() == latest.keys() and summary["users"] == len(latest)
    assert {"email", "first_name", "last_name", "ip"} <= set(
        summary["left_out"]
    )  # personal, high-cardinality
    assert (
        summary["fields"]["Campaign Source"] == "CAMPAIGN_SOURCE"
        and summary["fields"]["Invited User?"] == "INVITED_USER"
    )
    for user, traits in latest.items():
        assert rows[user]["CAMPAIGN_SOURCE"] == traits["Campaign Source"]
        assert float(rows[user]["LIKELIHOOD_TO_BUY"]) == traits["likelihood_to_buy"]
    schema = json_module.loads((tmp_path / "users.avsc").read_text())
    names = [f["name"] for f in schema["fields"]]
    with open(tmp_path / "users.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert schema["name"] == "Users" and names == header and len(names) <= 26
    assert {f["name"]: f.get("categorical") for f in schema["fields"]}["CAMPAIGN_SOURCE"] is True


def test_users_dataset_fields_can_be_chosen_and_lists_are_joined(tmp_path):
    logs = tmp_path / "logs"
    write_log(
        logs,
        "a.gz",
        [
            {
                "type": "identify",
                "userId": "u1",
                "timestamp": "2026-11-01T09:00:00Z",
                "traits": {"tags": ["a", "b"], "plan": "free"},
            },
            {
                "type": "identify",
                "userId": "u1",
                "timestamp": "2026-11-02T09:00:00Z",
                "traits": {"plan": "pro"},
            },
            {
                "type": "identify",
                "userId": 7,
                "timestamp": "2026-11-01T09:00:00Z",
                "traits": {"plan": "free"},
            },
        ],
    )
    result = runner.invoke(
        app,
        [
            "transform",
            str(logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--users",
            str(tmp_path / "u.csv"),
            "--user-fields",
            "tags,plan",
        ],
    )
    assert (tmp_path / "u.csv").read_text().splitlines() == ["USER_ID,PLAN,TAGS", "7,free,", "u1,pro,a|b"], (
        result.output
    )
    bad = runner.invoke(
        app,
        [
            "transform",
            str(logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--users",
            str(tmp_path / "v.csv"),
            "--user-fields",
            "nope",
        ],
    )
    assert bad.exit_code == 2 and "nope" in bad.output and not (tmp_path / "v.csv").exists()


def test_ecommerce_domain_maps_events_to_personalize_event_types(workshop_logs, workshop_messages, tmp_path):
    from collections import Counter

    result = runner.invoke(
        app, ["transform", str(workshop_logs), "--out", str(tmp_path / "e.csv"), "--domain", "ecommerce"]
    )
    assert result.exit_code == 0, result.output
    expected = {"Product Clicked": "View", "Product Added": "AddToCart", "Order Completed": "Purchase"}
    kept = {m["messageId"]: expected[m["event"]] for _, m in workshop_messages if m.get("event") in expected}
    assert Counter(row["EVENT_TYPE"] for row in rows_of(tmp_path / "e.csv")) == Counter(kept.values())
    (tmp_path / "map.toml").write_text('"Order Completed" = "Purchase"\n')
    runner.invoke(
        app,
        [
            "transform",
            str(workshop_logs),
            "--out",
            str(tmp_path / "p.csv"),
            "--domain",
            "ecommerce",
            "--event-map",
            str(tmp_path / "map.toml"),
        ],
    )
    assert {row["EVENT_TYPE"] for row in rows_of(tmp_path / "p.csv")} == {"Purchase"}
    checked = runner.invoke(app, ["validate", str(tmp_path / "p.csv"), "--domain", "ecommerce", "--json"])
    checks = {c["rule"]: c["status"] for c in json.loads(checked.stdout)["checks"]}
    assert (
        checks["ECOMMERCE domain: Purchase events"] == "pass"
        and checks["ECOMMERCE domain: View events"] == "warn"
    )
    alone = runner.invoke(
        app,
        [
            "transform",
            str(workshop_logs),
            "--out",
            str(tmp_path / "x.csv"),
            "--event-map",
            str(tmp_path / "map.toml"),
        ],
    )
    assert alone.exit_code == 2 and "--event-map needs --domain" in alone.output


def test_items_dataset_holds_each_items_latest_product_fields(tmp_path):
    logs = tmp_path / "logs"
    write_log(
        logs,
        "a.gz",
        [
            track(
                "m1",
                "Product Viewed",
                "u",
                None,
                "2026-11-01T09:00:00Z",
                properties={
                    "product_id": "p1",
                    "price": 10.5,
                    "category": "Shoes/Boots",
                    "brand": "Acme",
                    "name": "Boot",
                },
            ),
            track(
                "m2",
                "Product Viewed",
                "u",
                None,
                "2026-11-02T09:00:00Z",
                properties={
                    "product_id": "p1",
                    "price": 12.0,
                    "category": "Shoes > Boots",
                    "brand": "Acme",
                    "name": "Boot, new",
                },
            ),
            track(
                "m3",
                "Order Completed",
                "u",
                None,
                "2026-11-02T10:00:00Z",
                properties={
                    "order_id": "o",
                    "products": [
                        {"product_id": "p2", "price": 3, "category": "Hats", "name": "Cap"},
                        {"product_id": "p1"},
                    ],
                },
            ),
        ],
    )
    result = runner.invoke(
        app,
        [
            "transform",
            str(logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--item-id",
            "product_id",
            "--items",
            str(tmp_path / "items.csv"),
            "--json",
        ],
    )
    assert json.loads(result.stdout)["items_dataset"] == {
        "items": 2,
        "fields": ["PRICE", "CATEGORY_L1", "CATEGORY_L2", "BRAND", "PRODUCT_DESCRIPTION"],
        "from_catalog": 0,
    }
    assert rows_of(tmp_path / "items.csv") == [
        {
            "ITEM_ID": "p1",
            "PRICE": "12.0",
            "CATEGORY_L1": "Shoes",
            "CATEGORY_L2": "Boots",
            "BRAND": "Acme",
            "PRODUCT_DESCRIPTION": "Boot, new",
        },
        {
            "ITEM_ID": "p2",
            "PRICE": "3.0",
            "CATEGORY_L1": "Hats",
            "CATEGORY_L2": "",
            "BRAND": "",
            "PRODUCT_DESCRIPTION": "Cap",
        },
    ]
    schema = json.loads((tmp_path / "items.avsc").read_text())
    kinds = {
        f["name"]: "categorical"
        if f.get("categorical")
        else "textual"
        if f.get("textual")
        else f["type"][-1]
        if isinstance(f["type"], list)
        else f["type"]
        for f in schema["fields"]
    }
    assert schema["name"] == "Items" and kinds == {
        "ITEM_ID": "string",
        "PRICE": "float",
        "CATEGORY_L1": "categorical",
        "CATEGORY_L2": "categorical",
        "BRAND": "categorical",
        "PRODUCT_DESCRIPTION": "textual",
    }


def test_the_catalog_export_comes_first_and_its_cold_items_are_rows(tmp_path):
    logs = tmp_path / "logs"
    write_log(
        logs,
        "a.gz",
        [
            track(
                "m1",
                "Product Viewed",
                "u",
                None,
                "2026-11-01T09:00:00Z",
                properties={"product_id": "p1", "price": 10.5, "category": "Shoes/Boots", "name": "Boot"},
            ),
            track(
                "m2",
                "Product Viewed",
                "u",
                None,
                "2026-11-02T09:00:00Z",
                properties={"product_id": "p2", "price": 4.0, "brand": "Hatco"},
            ),
        ],
    )
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text(
        json.dumps(
            {
                "product_id": "p1",
                "price": 11.0,
                "category": "Shoes/Boots",
                "description": "A boot",
                "created_at": "2026-01-01T00:00:00Z",
            }
        )
        + "\n"
        + json.dumps(
            {
                "product_id": "p9",
                "price": 1.0,
                "category": "Socks",
                "name": "Sock",
                "created_at": "2026-02-01",
            }
        )
        + "\n"
    )
    result = runner.invoke(
        app,
        [
            "transform",
            str(logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--item-id",
            "product_id",
            "--items",
            str(tmp_path / "items.csv"),
            "--catalog",
            str(catalog),
            "--json",
        ],
    )
    assert json.loads(result.stdout)["items_dataset"]["from_catalog"] == 2

    def stamp(text: str) -> str:
        return str(int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()))

    assert rows_of(tmp_path / "items.csv") == [
        {
            "ITEM_ID": "p1",
            "PRICE": "11.0",
            "CATEGORY_L1": "Shoes",
            "CATEGORY_L2": "Boots",
            "BRAND": "",
            "PRODUCT_DESCRIPTION": "A boot",
            "CREATION_TIMESTAMP": stamp("2026-01-01T00:00:00"),
        },
        {
            "ITEM_ID": "p2",
            "PRICE": "4.0",
            "CATEGORY_L1": "",
            "CATEGORY_L2": "",
            "BRAND": "Hatco",
            "PRODUCT_DESCRIPTION": "",
            "CREATION_TIMESTAMP": "",
        },
        {
            "ITEM_ID": "p9",
            "PRICE": "1.0",
            "CATEGORY_L1": "Socks",
            "CATEGORY_L2": "",
            "BRAND": "",
            "PRODUCT_DESCRIPTION": "Sock",
            "CREATION_TIMESTAMP": stamp("2026-02-01T00:00:00"),
        },
    ]
    catalog.write_text("{not json\n")
    bad = runner.invoke(
        app,
        [
            "transform",
            str(logs),
            "--out",
            str(tmp_path / "j.csv"),
            "--item-id",
            "product_id",
            "--items",
            str(tmp_path / "items2.csv"),
            "--catalog",
            str(catalog),
        ],
    )
    assert bad.exit_code == 2 and "is not JSON lines" in bad.output and not (tmp_path / "items2.csv").exists()
    alone = runner.invoke(
        app, ["transform", str(logs), "--out", str(tmp_path / "k.csv"), "--catalog", str(catalog)]
    )
    assert alone.exit_code == 2 and "--catalog goes with --items" in alone.output


def test_the_workshop_catalog_is_written_beside_the_logs_and_describes_every_sku(workshop_logs, tmp_path):
    from toolkit.simulate.scenario_toml import load_scenario

    catalog = workshop_logs / "catalog.jsonl"
    products = [json.loads(line) for line in catalog.read_text().splitlines()]
    assert sorted(p["sku"] for p in products) == sorted(load_scenario("workshop").catalog["sku"])
    result = runner.invoke(
        app,
        [
            "transform",
            str(workshop_logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--items",
            str(tmp_path / "items.csv"),
            "--catalog",
            str(catalog),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {row["ITEM_ID"]: row for row in rows_of(tmp_path / "items.csv")}
    assert set(rows) == {p["sku"] for p in products}
    assert all(
        float(rows[p["sku"]]["PRICE"]) == p["price"]
        and rows[p["sku"]]["CATEGORY_L1"] == p["category"].split("/")[0]
        for p in products
    )


def test_items_dataset_of_data_without_product_fields_is_one_line(workshop_logs, tmp_path):
    result = runner.invoke(
        app,
        [
            "transform",
            str(workshop_logs),
            "--out",
            str(tmp_path / "i.csv"),
            "--items",
            str(tmp_path / "items.csv"),
        ],
    )
    assert (
        result.exit_code == 2
        and "no product metadata" in result.output
        and not (tmp_path / "items.csv").exists()
    )
