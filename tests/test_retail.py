"""The retail scenario looks like a real store's Segment data: measured on generated files, each
figure computed here from the lines themselves."""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from tests.helpers import read_messages, replaced, rows_of, scenario_text
from toolkit.cli import app
from toolkit.errors import UsageError
from toolkit.segment.libraries import REFERRERS, SITE
from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario_toml import load_scenario

FIRST = date(2026, 11, 2)  # a Monday
DAYS = 14
RETAIL = load_scenario("retail")
PRODUCT_EVENTS = ("Product Viewed", "Product Added", "Product Removed")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
UPPER_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
LOWER_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def retail_logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("retail")
    result = generate(RETAIL.with_visitors(150), FIRST, DAYS, 3, LocalSink(root), workers=2)
    return root, result


@pytest.fixture(scope="module")
def files(retail_logs):
    return read_messages(retail_logs[0])


@pytest.fixture(scope="module")
def messages(files):
    """Each message once (a duplicate delivery is the same message)."""
    seen, unique = set(), []
    for _, message in files:
        if message["messageId"] not in seen:
            seen.add(message["messageId"])
            unique.append(message)
    return unique


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local(message) -> datetime:
    """When the message happened, in its device's time zone (the apps send it; analytics.js 1.53 does not)."""
    return moment(message["timestamp"]).astimezone(ZoneInfo(message["context"]["timezone"]))


def zoned(messages):
    """The messages whose context names their device's time zone."""
    return [m for m in messages if "timezone" in m["context"]]


def sessions_of(messages):
    """Each device's messages in the order they were made: by the device's clock (timestamp, which
    adds each request's network time, can swap messages made under a second apart)."""
    by_device = defaultdict(list)
    for message in messages:
        by_device[message["anonymousId"]].append(message)
    for device in by_device.values():
        device.sort(key=lambda m: m["originalTimestamp"])
    return by_device


def products_in(message) -> list[dict]:
    properties = message.get("properties") or {}
    return properties.get("products", [properties] if "product_id" in properties else [])


def test_spec_v2_events_carry_products_arrays_and_orders_their_totals(messages):
    tracks = Counter(m["event"] for m in messages if m["type"] == "track")
    for event in (
        "Products Searched",
        "Product List Viewed",
        "Product Clicked",
        "Product Viewed",
        "Product Added",
        "Product Removed",
        "Cart Viewed",
        "Checkout Started",
        "Order Completed",
    ):
        assert tracks[event] > 100, event
    catalog = {p["product_id"]: p for p in RETAIL.products}
    for message in messages:
        event, properties = message.get("event"), message.get("properties", {})
        if event in ("Order Completed", "Product List Viewed", "Cart Viewed", "Checkout Started"):
            assert isinstance(properties["products"], list) and properties["products"], message
            for product in properties["products"]:
                known = catalog[product["product_id"]]
                assert {k: product[k] for k in ("sku", "name", "category", "brand", "price")} == {
                    k: known[k] for k in ("sku", "name", "category", "brand", "price")
                }
        if event == "Order Completed":
            assert properties["currency"] == "USD" and properties["order_id"]
            assert properties["revenue"] == pytest.approx(
                sum(p["price"] * p["quantity"] for p in properties["products"]), abs=0.01
            )
            assert all(p["quantity"] >= 1 for p in properties["products"])
        if event == "Product List Viewed":
            assert [p["position"] for p in properties["products"]] == list(
                range(1, len(properties["products"]) + 1)
            )
        if event in PRODUCT_EVENTS:
            assert (
                properties["product_id"] in catalog
                and properties["sku"] == catalog[properties["product_id"]]["sku"]
            )


def test_spec_v2_links_a_click_to_its_list_and_an_order_to_its_checkout_with_the_stores_totals(messages):
    """Spec v2 (segment-docs connections/spec/ecommerce/v2.md): Product Clicked, with the product's
    position, comes between the list and the product's view; Checkout Started creates the order,
    so Order Completed carries its order_id (and here checkout_id); Order Completed's subtotal is the
    lines less the discount, total adds shipping and tax ([store.totals] of the retail store)."""
    totals = RETAIL.store.spec.totals
    clicks = orders = couponed = 0
    for device in sessions_of(messages).values():
        shown, clicked, checkout = {}, None, None
        for message in device:
            event, properties = message.get("event"), message.get("properties", {})
            if event == "Product List Viewed":
                shown = {p["product_id"]: p["position"] for p in properties["products"]}
            elif event == "Product Clicked":
                assert shown[properties["product_id"]] == properties["position"]
                clicked = properties["product_id"]
                clicks += 1
            elif event == "Product Viewed":
                assert properties["product_id"] == clicked
                clicked = None
            elif event == "Checkout Started":
                checkout = properties
            elif event == "Order Completed":
                orders += 1
                assert checkout is not None
                assert (properties["order_id"], properties["checkout_id"]) == (
                    checkout["order_id"],
                    checkout["checkout_id"],
                )
                subtotal = round(properties["revenue"] - properties["discount"], 2)
                shipping = 0.0 if subtotal >= totals.free_shipping_over else totals.shipping
                assert properties["subtotal"] == pytest.approx(subtotal, abs=0.005)
                assert properties["shipping"] == shipping
                assert properties["tax"] == pytest.approx(subtotal * totals.tax_rate, abs=0.006)
                assert properties["total"] == pytest.approx(
                    subtotal + shipping + properties["tax"], abs=0.006
                )
                if "coupon" in properties:
                    couponed += 1
                    assert properties["coupon"] == totals.coupon
                    assert properties["discount"] == pytest.approx(
                        properties["revenue"] * totals.coupon_discount, abs=0.006
                    )
                else:
                    assert properties["discount"] == 0
    assert clicks > 1000 and orders > 100
    assert 0.5 * totals.coupon_chance < couponed / orders < 2 * totals.coupon_chance


def test_a_session_is_consistent_what_is_ordered_was_added_and_what_was_added_was_viewed(messages):
    orders = 0
    for device in sessions_of(messages).values():
        viewed, listed, cart = set(), set(), Counter()
        for message in device:
            event, properties = message.get("event"), message.get("properties", {})
            if event == "Product List Viewed":
                listed |= {p["product_id"] for p in properties["products"]}
            elif event == "Product Viewed":
                assert properties["product_id"] in listed
                viewed.add(properties["product_id"])
            elif event == "Product Added":
                assert properties["product_id"] in viewed
                cart[properties["product_id"]] += 1
            elif event == "Product Removed":
                assert cart[properties["product_id"]] > 0
                cart[properties["product_id"]] -= 1
            elif event == "Order Completed":
                orders += 1
                assert all(cart[p["product_id"]] > 0 for p in properties["products"])
                cart.clear()
    assert orders > 100


def test_the_web_sends_page_calls_and_the_apps_screen_calls_and_tracks_happen_on_the_page_viewed_last(
    messages,
):
    calls = defaultdict(Counter)
    for message in messages:
        calls[message["context"]["library"]["name"]][message["type"]] += 1
    assert calls["analytics.js"]["page"] > 1000 and calls["analytics.js"]["screen"] == 0
    for library in ("analytics-kotlin", "analytics-swift"):
        assert calls[library]["screen"] > 1000 and calls[library]["page"] == 0
    checked, referrers = 0, Counter()
    for device in sessions_of(
        m for m in messages if m["context"]["library"]["name"] == "analytics.js"
    ).values():
        page = None
        for message in device:
            if message["type"] == "page":
                assert message["name"] and "event" not in message
                # analytics-next 1.53.0 plugins/page-enrichment: the page's context and the call's name;
                # referrer is document.referrer: the page before in the session, or where it came from
                assert message["properties"] == dict(message["context"]["page"], name=message["name"])
                referrer = message["context"]["page"]["referrer"]
                assert referrer == (page["url"] if page is not None else referrer) or referrer in REFERRERS
                page = message["context"]["page"]
                referrers[referrer.startswith(SITE)] += 1
            elif page is not None:
                assert message["context"]["page"] == page
                checked += 1
            if message.get("event") == "Product Viewed":
                assert message["context"]["page"]["path"] == f"/p/{message['properties']['sku']}"
    assert checked > 1000 and referrers[True] > 1000 and referrers[False] > 100


def test_the_current_mobile_libraries_send_what_their_versions_send(messages):
    """analytics-kotlin 1.19.2: device.id is the anonymousId with collectDeviceId off (Configuration.kt,
    AndroidContextPlugin.kt getDeviceId); screen calls carry category "" (Analytics.kt screen,
    encodeDefaults in JSON.kt). Both skip the Segment destination in _metadata.bundled
    (DestinationMetadataPlugin.kt, DestinationMetadataPlugin.swift)."""
    for name, device_id, ids in (
        ("analytics-kotlin", LOWER_UUID, LOWER_UUID),
        ("analytics-swift", UPPER_UUID, UPPER_UUID),
    ):
        sent = [m for m in messages if m["context"]["library"]["name"] == name]
        assert sent
        for message in sent:
            context = message["context"]
            assert (
                device_id.match(context["device"]["id"])
                and ids.match(context["instanceId"])
                and ids.match(message["messageId"])
            )
            assert "advertisingId" not in context["device"] and "adTrackingEnabled" not in context["device"]
            assert "traits" not in context
            assert message["_metadata"] == {"bundled": [], "bundledIds": [], "unbundled": []}
            kotlin = name == "analytics-kotlin"
            assert (context["device"]["id"] == message["anonymousId"]) == kotlin
            assert ("category" in message) == (kotlin and message["type"] == "screen")
            assert message.get("category", "") == ""


def test_product_popularity_is_heavy_tailed(messages):
    views = Counter(
        p["product_id"]
        for m in messages
        if m.get("event") in PRODUCT_EVENTS or m.get("event") == "Order Completed"
        for p in products_in(m)
    )
    counts = sorted(views.values(), reverse=True)
    top = counts[: len(RETAIL.products) // 10]
    assert sum(top) / sum(counts) >= 0.4
    assert len(RETAIL.products) >= 2000


def test_shoppers_mostly_browse_in_their_persona_categories(messages):
    """A user's product views concentrate in a few categories, far more than the same views dealt
    to users at random would."""
    per_user = defaultdict(list)
    for message in messages:
        if message.get("event") == "Product Viewed":
            per_user[message["anonymousId"]].append(message["properties"]["category"])
    active = [categories for categories in per_user.values() if len(categories) >= 10]
    assert len(active) > 100

    def top3_share(groups):
        return sum(sum(n for _, n in Counter(c).most_common(3)) / len(c) for c in groups) / len(groups)

    pooled = [c for categories in active for c in categories]
    random.Random(1).shuffle(pooled)
    dealt, at = [], 0
    for categories in active:
        dealt.append(pooled[at : at + len(categories)])
        at += len(categories)
    assert top3_share(active) > 0.8
    assert top3_share(active) > top3_share(dealt) + 0.25


def test_the_day_curve_is_in_local_time_and_traffic_crosses_midnight_utc(messages):
    """The first message of each shopper's day (which runs from DAY_STARTS_AT local) falls in the
    hours of the day curve."""
    firsts = {}
    for message in zoned(messages):
        key = (message["anonymousId"], (local(message) - timedelta(hours=RETAIL.rhythm.DAY_STARTS_AT)).date())
        if key not in firsts or message["timestamp"] < firsts[key]["timestamp"]:
            firsts[key] = message
    hours = Counter(local(m).hour for m in firsts.values())
    observed = [hours[h] / len(firsts) for h in range(24)]
    expected = [w / sum(RETAIL.rhythm.hours) for w in RETAIL.rhythm.hours]
    assert 0.5 * sum(abs(o - e) for o, e in zip(observed, expected, strict=True)) < 0.05  # follows the curve
    assert 0.5 * sum(abs(o - 1 / 24) for o in observed) > 0.15  # which is not flat
    utc_hours = Counter(moment(m["timestamp"]).hour for m in messages)
    assert utc_hours[23] > 0 and utc_hours[0] > 0 and utc_hours[1] > 0


@pytest.mark.slow
def test_new_visitors_follow_the_week_curve_and_grow_week_on_week(tmp_path):
    rhythm = replace(RETAIL.rhythm, weekly_growth=0.5)
    scenario = replace(RETAIL.with_visitors(60), retention=0.0, rhythm=rhythm)
    generate(scenario, FIRST, DAYS, 5, LocalSink(tmp_path), workers=2)
    first_seen = {}
    for message in zoned(m for _, m in read_messages(tmp_path)):
        day = (local(message) - timedelta(hours=RETAIL.rhythm.DAY_STARTS_AT)).date()  # the shopper's day
        first_seen[message["anonymousId"]] = min(day, first_seen.get(message["anonymousId"], day))
    per_day = Counter(first_seen.values())
    weekly = [sum(per_day[FIRST + timedelta(days=week * 7 + d)] for d in range(7)) for week in (0, 1)]
    assert weekly[1] / weekly[0] == pytest.approx(1.5, rel=0.08)
    # with the growth taken out, each weekday's share is its weight's
    flat = Counter()
    for day, count in per_day.items():
        flat[day.weekday()] += count / 1.5 ** ((day - FIRST).days / 7)
    total = sum(flat.values())
    for weekday, weight in enumerate(rhythm.weekdays):
        assert flat[weekday] / total == pytest.approx(weight / sum(rhythm.weekdays), abs=0.01)


def test_customers_come_back_on_some_days_and_churn(messages):
    days_of = defaultdict(set)
    for message in zoned(messages):
        if message.get("userId"):
            days_of[message["userId"]].add(local(message).date())
    assert sum(len(days) >= 2 for days in days_of.values()) / len(days_of) > 0.3
    early = [user for user, days in days_of.items() if min(days) <= FIRST + timedelta(days=1)]
    soon = sum(any(FIRST + timedelta(days=d) in days_of[u] for d in (3, 4, 5)) for u in early)
    late = sum(any(FIRST + timedelta(days=d) in days_of[u] for d in (11, 12, 13)) for u in early)
    assert 0 < late < soon


def test_anonymous_browsing_until_sign_up_then_identified_and_logins_later(messages):
    signed_up = 0
    for device in sessions_of(messages).values():
        kinds = [(m["type"], bool(m.get("userId"))) for m in device]
        first_identify = next((i for i, (kind, _) in enumerate(kinds) if kind == "identify"), None)
        if first_identify is None:
            assert not any(known for _, known in kinds)
            continue
        if not kinds[0][1]:  # a new visitor: anonymous until they sign up, known after
            signed_up += 1
            assert not any(known for _, known in kinds[:first_identify])
            assert all(known for _, known in kinds[first_identify:])
        identify = device[first_identify]
        assert identify["traits"]["email"] and identify["traits"]["name"]
    assert signed_up > 100
    logins = Counter(m["userId"] for m in messages if m["type"] == "identify")
    assert sum(n >= 2 for n in logins.values()) > 50  # identified again at later logins


def test_the_apps_close_a_batch_at_every_flush_online_or_not_and_upload_it_as_it_is(files):
    """analytics-kotlin 1.19 and analytics-swift 1.7 close the batch file, writing its sentAt, at
    every flush (flushAt 20 or flushInterval 30 s: Configuration.kt, EventPipeline.kt upload() rolling
    the file over first, StorageImpl.kt; DirectoryStore.swift finishFile), whether or not the upload
    then succeeds, and upload stored files as they are, retries included. So: at most 20 messages a
    batch, made within 30 s of its sentAt; every delivery of a batch one request, one receivedAt,
    the same messages; an offline day's batches reach Segment hours later with their old sentAt,
    which puts their corrected timestamp within 30 s of receivedAt, hours after the events."""
    batches = defaultdict(list)
    for _, m in files:
        if m["context"]["library"]["name"] in ("analytics-kotlin", "analytics-swift"):
            batches[(m["anonymousId"], m["sentAt"])].append(m)
    firsts = {}
    for key, lines in batches.items():
        deliveries = defaultdict(list)
        for m in lines:
            deliveries[m["receivedAt"]].append(m["messageId"])
        copies = [sorted(ids) for ids in deliveries.values()]
        assert all(ids == copies[0] for ids in copies)  # a retry repeats the whole request
        first = min(deliveries)
        firsts[key] = [m for m in lines if m["receivedAt"] == first]
    made = {key: [moment(m["originalTimestamp"]) for m in lines] for key, lines in firsts.items()}
    assert all(len(times) <= 20 for times in made.values())
    assert all(0 <= (moment(sent) - max(times)).total_seconds() <= 30.1 for (_, sent), times in made.items())
    together = sum(len(t) for t in made.values() if len(t) > 1) / sum(len(t) for t in made.values())
    assert together > 0.5
    late = [
        m
        for lines in firsts.values()
        for m in lines
        if (moment(m["receivedAt"]) - moment(m["sentAt"])).total_seconds() > 3600
    ]
    share = len(late) / sum(len(lines) for lines in firsts.values())
    assert 0.5 * RETAIL.delivery.offline_chance < share < 2 * RETAIL.delivery.offline_chance
    assert all(0 <= (moment(m["receivedAt"]) - moment(m["timestamp"])).total_seconds() <= 30.1 for m in late)
    hours_after = sorted(
        (moment(m["timestamp"]) - moment(m["originalTimestamp"])).total_seconds() for m in late
    )
    assert hours_after[len(hours_after) // 2] > 3600


def test_one_request_one_receivedat_and_the_batch_order_kept_by_the_correction(files):
    """Segment stamps receivedAt when a request arrives (segment-docs spec/common.md #receivedAt):
    the messages of one request share it, and sentAt, so the skew correction moves them all by the
    same amount and keeps the order they were made in."""
    requests = defaultdict(list)
    for _, m in files:
        requests[(m["anonymousId"], m["sentAt"], m["receivedAt"])].append(m)
    multi = [lines for lines in requests.values() if len(lines) > 1]
    assert len(multi) > 1000
    for lines in multi:
        offsets = {moment(m["timestamp"]) - moment(m["originalTimestamp"]) for m in lines}
        assert len(offsets) == 1
    # analytics.js posts each message alone (analytics-next plugins/segmentio/index.ts): what shares
    # its sentAt and receivedAt was made at the same instant and left with it
    web = [lines for lines in multi if lines[0]["context"]["library"]["name"] == "analytics.js"]
    assert all(len({m["originalTimestamp"] for m in lines}) == 1 for lines in web)


def test_late_and_duplicate_deliveries_at_the_configured_rates(files, retail_logs):
    all_lines = [m for _, m in files]
    copies = Counter(m["messageId"] for m in all_lines)
    extra = sum(n - 1 for n in copies.values())
    assert extra == retail_logs[1].duplicates
    assert abs(extra / (len(all_lines) - extra) - RETAIL.delivery.duplicate_chance) < 0.002
    later_day = sum(m["receivedAt"][:10] > m["originalTimestamp"][:10] for m in all_lines) / len(all_lines)
    assert later_day > 0.005  # made one day, received the next (an offline day's, mostly)
    for path, message in files:  # each file under the day Segment received its messages
        received = moment(message["receivedAt"]).replace(hour=0, minute=0, second=0, microsecond=0)
        assert int(path.parent.name) == int(received.timestamp() * 1000)


@pytest.mark.slow
def test_the_whole_toolkit_works_on_retail_data(retail_logs, messages, files, tmp_path):
    root, _ = retail_logs
    runner = CliRunner()
    out = tmp_path / "interactions.csv"
    result = runner.invoke(
        app,
        [
            "transform",
            str(root),
            "--out",
            str(out),
            "--item-id",
            "product_id",
            "--domain",
            "ecommerce",
            "--items",
            str(tmp_path / "items.csv"),
            "--catalog",
            str(root / "catalog.jsonl"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    accounting = json.loads(result.stdout)
    assert accounting["balanced"] and accounting["messages_read"] == len(files)
    wanted = {
        "Product Viewed": "View",
        "Product Clicked": "View",
        "Product Added": "AddToCart",
        "Checkout Started": "Checkout",
        "Order Completed": "Purchase",
    }
    expected = Counter()
    for message in messages:
        if message["type"] == "track" and message["event"] in wanted and message.get("userId"):
            expected[wanted[message["event"]]] += len(products_in(message))
    rows = rows_of(out)
    assert Counter(row["EVENT_TYPE"] for row in rows) == expected
    assert {row["ITEM_ID"] for row in rows} <= {p["product_id"] for p in RETAIL.products}
    assert len(rows_of(tmp_path / "items.csv")) == len(RETAIL.products)
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    explored = runner.invoke(
        app,
        [
            "explore",
            str(root),
            "--sql",
            "SELECT count(*) AS n FROM segment_logs WHERE type = 'screen'",
            "--format",
            "csv",
        ],
    )
    assert explored.exit_code == 0, explored.output
    assert str(sum(m["type"] == "screen" for _, m in files)) in explored.stdout


@pytest.mark.slow
def test_toolkit_workshop_runs_the_retail_scenario_and_finds_signal(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "workshop",
            "--scenario",
            "retail",
            "--date",
            "2026-11-02",
            "--days",
            "4",
            "--users-per-day",
            "400",
            "--out",
            str(tmp_path / "w"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = rows_of(tmp_path / "w" / "transformed" / "interactions.csv")
    assert {row["EVENT_TYPE"] for row in rows} == {"View", "AddToCart", "Checkout", "Purchase"}
    summary = json.loads(result.stdout)
    evaluation = summary["evaluation"]
    assert (
        evaluation["learnable"]
        and evaluation["cooccurrence"]["hit_rate"] > 1.2 * evaluation["popularity"]["hit_rate"]
    )


@pytest.mark.slow
def test_the_same_seed_gives_the_same_files(tmp_path):
    for name in ("a", "b"):
        generate(RETAIL.with_visitors(40), FIRST, 2, 11, LocalSink(tmp_path / name), workers=2)
    first = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*.gz")}
    second = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*.gz")}
    assert first and first == second


@pytest.mark.parametrize(
    "change, complaint",
    [
        (lambda t: replaced(t, '  { role = "remove", event = "Product Removed" },\n', ""), "missing: remove"),
        (
            lambda t: replaced(
                t,
                '{ role = "add", event = "Product Added" }',
                '{ role = "add", page = "Cart", event = "Product Added" }',
            ),
            "has no page of its own",
        ),
        (
            lambda t: replaced(t, "popularity_exponent = 1.1", "popularity_exponent = -1"),
            "popularity_exponent",
        ),
        (lambda t: replaced(t, "hours = [2, 1,", "hours = [1,"), "24 weights"),
        (lambda t: replaced(t, '"Clothing/Tops" =', '"Tops" ='), "two levels"),
        (
            lambda t: t[: t.index("[store]")] + t[t.index("[traits]") :].replace("[store.categories]", ""),
            "[store]",
        ),
        (
            lambda t: replaced(t, "user_id_digits = 9", 'user_id_digits = 9\nday_start = "08:00"'),
            "leave out scenario.day_start",
        ),
    ],
)
def test_a_bad_store_scenario_is_one_clear_error(tmp_path, change, complaint):
    text = scenario_text("retail")
    path = tmp_path / "bad.toml"
    path.write_text(change(text))
    with pytest.raises(UsageError, match=re.escape(complaint)):
        load_scenario(path)
