"""The Personalize event-tracker destination (personalize-events://TRACKING_ID).

moto does not mock personalize-events at all (PutEvents answers 404), so every PutEvents goes
through botocore's Stubber: the client validates each request against the real service model
(names, types, 1-10 events, required sentAt and eventType) before the Stubber answers it. What
should be sent is computed here from the messages themselves, not by the toolkit's code."""

from __future__ import annotations

import base64
import calendar
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from tests.helpers import KEYS, RunningCollector, read_messages, request, track
from toolkit.aws.s3 import AwsOptions
from toolkit.cli import app
from toolkit.destinations import open_destination
from toolkit.errors import UsageError
from toolkit.personalize_events import PersonalizeEvents, parse_url
from toolkit.segment.sinks import LocalSink
from toolkit.transforming.summary import TransformOptions

runner = CliRunner()
TRACKING_ID = "5e6f7a8b-1c2d-3e4f-9a0b-123456789abc"
KEPT = ("Product Added", "Order Completed", "Product Clicked")  # the transform's default events


def events_client():
    client = botocore.session.get_session().create_client(
        "personalize-events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sent: list[dict] = []
    client.meta.events.register(
        "provide-client-params.personalize-events.PutEvents", lambda params, **_: sent.append(params)
    )
    return client, Stubber(client), sent


def destination(client, options: TransformOptions | None = None) -> PersonalizeEvents:
    made = PersonalizeEvents(TRACKING_ID, options or TransformOptions())
    made._client = client
    return made


def epoch(text: str) -> int:
    """The epoch second of an ISO-8601 timestamp (UTC when it has no offset), by calendar arithmetic."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    aware = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return calendar.timegm(aware.astimezone(UTC).timetuple())


def expected_events(messages: list[dict]) -> Counter:
    """(sessionId, userId, eventId, eventType, itemId, sentAt) of every event a kept message makes."""
    expected: Counter = Counter()
    for m in messages:
        user = m.get("userId")
        if m.get("type") != "track" or m.get("event") not in KEPT or not isinstance(user, str) or not user:
            continue
        sku = (m.get("properties") or {}).get("sku")
        if not sku:
            continue
        expected[
            (m.get("anonymousId") or user, user, m["messageId"], m["event"], sku, epoch(m["timestamp"]))
        ] += 1
    return expected


def test_every_kept_event_is_put_in_sessions_of_at_most_ten(workshop_messages):
    messages = [m for _, m in workshop_messages]
    lines = [json.dumps(m).encode() + b"\n" for m in messages]
    client, stub, sent = events_client()
    made = destination(client)
    for _ in range(len(lines)):  # at most one call a message
        stub.add_response("put_events", {})
    with stub:
        for start in range(0, len(lines), 5_000):
            made.deliver("source", lines[start : start + 5_000])
        counts = made.close()
    put: Counter = Counter()
    for call in sent:
        assert call["trackingId"] == TRACKING_ID and 1 <= len(call["eventList"]) <= 10
        for event in call["eventList"]:
            assert json.loads(event["properties"]) == {"itemId": event["itemId"]}
            put[
                (
                    call["sessionId"],
                    call["userId"],
                    event["eventId"],
                    event["eventType"],
                    event["itemId"],
                    event["sentAt"],
                )
            ] += 1
    expected = expected_events(messages)
    assert put == expected and sum(expected.values()) > 1000
    assert counts.delivered == sum(expected.values())  # one event a message here (no products[])
    assert counts.handed == len(messages) and counts.requests == len(sent) and counts.retries == 0
    assert counts.not_sent["type"] == sum(1 for m in messages if m.get("type") != "track")
    by_session = defaultdict(set)
    for call in sent:
        by_session[call["sessionId"]].add(call["userId"])
    assert len(sent) < len(expected) / 2  # batched: a session's events share calls


def message(number: int, **changes) -> dict:
    base = {
        "type": "track",
        "event": "Product Added",
        "messageId": f"m{number}",
        "anonymousId": "anon-1",
        "userId": "user-1",
        "timestamp": "2026-11-01T12:00:00.250Z",
        "properties": {"sku": f"sku-{number}"},
    }
    return base | changes


def lines_of(*messages: dict) -> list[bytes]:
    return [json.dumps(m).encode() + b"\n" for m in messages]


def test_throttling_is_retried_and_counted():
    client, stub, sent = events_client()
    stub.add_client_error("put_events", "ThrottlingException", "Rate exceeded", 400)
    stub.add_client_error("put_events", "ThrottlingException", "Rate exceeded", 400)
    stub.add_response("put_events", {})
    made = destination(client)
    with stub:
        made.deliver("source", lines_of(*(message(n) for n in range(3))))
        counts = made.close()
        stub.assert_no_pending_responses()
    assert (counts.delivered, counts.retries, counts.requests) == (3, 2, 1)
    assert [e["eventId"] for e in sent[-1]["eventList"]] == ["m0", "m1", "m2"]


def test_a_refused_event_is_found_and_counted_the_others_delivered():
    client, stub, sent = events_client()
    stub.add_client_error("put_events", "InvalidInputException", "sessionId too long", 400)
    for number in range(4):
        if number == 2:
            stub.add_client_error("put_events", "InvalidInputException", "bad event", 400)
        else:
            stub.add_response("put_events", {})
    made = destination(client)
    products = message(9, event="Order Completed", properties={"products": [{"sku": "a"}, {"sku": "b"}]})
    with stub:
        made.deliver("source", lines_of(message(0), message(1), products))
        counts = made.close()
        stub.assert_no_pending_responses()
    assert [len(call["eventList"]) for call in sent] == [4, 1, 1, 1, 1]
    assert [e["eventId"] for e in sent[0]["eventList"]] == ["m0", "m1", "m9-0", "m9-1"]
    assert counts.delivered == 2 and counts.not_sent == Counter(
        {"refused by Personalize (InvalidInputException)": 1}
    )
    assert counts.handed == 3


def test_a_failure_that_is_not_the_events_raises():
    client, stub, _ = events_client()
    stub.add_client_error("put_events", "ResourceNotFoundException", "no such tracker", 404)
    made = destination(client)
    with stub, pytest.raises(Exception, match="ResourceNotFoundException"):
        made.deliver("source", lines_of(message(0)))
        made.close()


def test_the_url_carries_the_transforms_options():
    made = open_destination(f"personalize-events://{TRACKING_ID}?item-id=product_id&domain=ecommerce")
    assert isinstance(made, PersonalizeEvents) and made.name == f"personalize-events://{TRACKING_ID}"
    assert made.options.item_field == "product_id" and made.options.event_map["Product Viewed"] == "View"
    tracking_id, options = parse_url(f"personalize-events://{TRACKING_ID}?event-types=Order%20Completed")
    assert tracking_id == TRACKING_ID and options.event_types == ("Order Completed",)
    for bad in (
        "personalize-events://",
        f"personalize-events://{TRACKING_ID}?item=sku",
        f"personalize-events://{TRACKING_ID}/x",
    ):
        with pytest.raises(UsageError):
            parse_url(bad)


SENT_AT_SCRIPT = """
import json, sys
from datetime import UTC, datetime
import botocore.session
from botocore.stub import Stubber
from toolkit.personalize_events import PersonalizeEvents
from toolkit.transforming.summary import TransformOptions

stamps = json.loads(sys.argv[1])
client = botocore.session.get_session().create_client(
    "personalize-events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
sent = []
client.meta.events.register(
    "provide-client-params.personalize-events.PutEvents", lambda params, **_: sent.append(params))
stub = Stubber(client)
made = PersonalizeEvents("tracker", TransformOptions())
made._client = client
messages = [{"type": "track", "event": "Product Added", "messageId": f"m{n}", "userId": "u",
             "anonymousId": f"a{n}", "timestamp": stamp, "properties": {"sku": "s"}}
            for n, stamp in enumerate(stamps)]
lines = [json.dumps(m).encode() + b"\\n" for m in messages]
for _ in lines:
    stub.add_response("put_events", {})
with stub:
    made.deliver("source", lines)
    made.close()
strftime = [int(datetime.fromisoformat(s.replace("Z", "+00:00")).strftime("%s")) for s in stamps]
print(json.dumps({"sentAt": [call["eventList"][0]["sentAt"] for call in sent], "strftime": strftime}))
"""


@pytest.mark.parametrize(
    "zone", ["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "America/St_Johns"]
)
def test_sent_at_is_the_epoch_second_in_every_time_zone(zone):
    stamps = [
        "2026-11-01T12:00:00.999Z",
        "2026-07-01T23:30:00+02:00",
        "2026-03-08T07:15:59",
        "2026-11-01T05:59:59.5-05:00",
    ]
    done = subprocess.run(
        [sys.executable, "-c", SENT_AT_SCRIPT, json.dumps(stamps)],
        env={**os.environ, "TZ": zone},
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["sentAt"] == [epoch(stamp) for stamp in stamps]
    if (
        zone == "America/New_York"
    ):  # the workshop Lambda's strftime('%s') reads the time as local: 5 hours off
        assert found["strftime"][0] - epoch(stamps[0]) == 5 * 3600


def test_generate_delivers_to_a_tracker(tmp_path, monkeypatch):
    client, stub, sent = events_client()
    personalize = botocore.session.get_session().create_client(
        "personalize", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    control = Stubber(personalize)
    tracker = "arn:aws:personalize:us-east-1:123456789012:event-tracker/abc"
    control.add_response(
        "list_event_trackers", {"eventTrackers": [{"name": "live", "eventTrackerArn": tracker}]}, {}
    )
    control.add_response(
        "describe_event_tracker",
        {"eventTracker": {"eventTrackerArn": tracker, "trackingId": TRACKING_ID}},
        {"eventTrackerArn": tracker},
    )
    original = AwsOptions.client
    clients = {"personalize-events": client, "personalize": personalize}
    monkeypatch.setattr(
        AwsOptions, "client", lambda self, service: clients.get(service) or original(self, service)
    )
    for _ in range(5_000):
        stub.add_response("put_events", {})
    with stub, control:
        result = runner.invoke(
            app,
            [
                "generate",
                "--date",
                "2026-11-01",
                "--days",
                "1",
                "--users-per-day",
                "20",
                "--out",
                f"personalize-events://{TRACKING_ID}",
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    counts = document["delivered"][f"personalize-events://{TRACKING_ID}"]
    events = sum(len(call["eventList"]) for call in sent)
    assert events > 0 and counts["delivered"] == events and counts["requests"] == len(sent)
    assert counts["delivered"] + sum(counts["not_sent"].values()) == document["messages"]


def test_the_collector_puts_what_it_stores(tmp_path):
    client, stub, sent = events_client()
    for _ in range(100):
        stub.add_response("put_events", {})
    events = destination(client)
    collector = RunningCollector([LocalSink(tmp_path / "stored"), events])
    batch = [
        track(f"m{n}", user_id=f"user-{n % 3}", sku=f"sku-{n}", anonymousId=f"anon-{n % 3}")
        for n in range(12)
    ]
    batch += [
        track("m-anonymous", user_id=None, anonymousId="anon-9"),
        {"type": "identify", "userId": "user-1", "messageId": "m-id"},
    ]
    body = json.dumps({"batch": batch, "sentAt": "2019-05-02T03:19:06.000Z"}).encode()
    auth = base64.b64encode(f"{KEYS['web']}:".encode()).decode()
    with stub:
        status, _, _ = request(
            collector.url,
            "POST",
            "/v1/batch",
            body,
            {"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
        )
        collector.close()
    assert status == 200
    stored = [m for _, m in read_messages(tmp_path / "stored")]
    assert len(stored) == len(batch)
    put = Counter(
        (call["sessionId"], call["userId"], e["eventId"], e["eventType"], e["itemId"], e["sentAt"])
        for call in sent
        for e in call["eventList"]
    )
    assert put == expected_events(stored) and sum(put.values()) == 12
    assert events.counts.not_sent == Counter({"no user": 1, "type": 1})


def control_plane(monkeypatch):
    """A stubbed Personalize control-plane client that AwsOptions hands out."""
    client = botocore.session.get_session().create_client(
        "personalize", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(AwsOptions, "client", lambda self, service: client)
    return Stubber(client)


def test_check_refuses_a_tracking_id_no_tracker_has(monkeypatch):
    stub = control_plane(monkeypatch)
    tracker = "arn:aws:personalize:us-east-1:123456789012:event-tracker/other"
    stub.add_response(
        "list_event_trackers", {"eventTrackers": [{"name": "other", "eventTrackerArn": tracker}]}, {}
    )
    stub.add_response(
        "describe_event_tracker",
        {"eventTracker": {"eventTrackerArn": tracker, "trackingId": "another-id"}},
        {"eventTrackerArn": tracker},
    )
    with stub, pytest.raises(UsageError, match="no event tracker in this account"):
        PersonalizeEvents(TRACKING_ID, TransformOptions()).check()


def test_check_lets_credentials_that_may_only_put_events_through(monkeypatch):
    stub = control_plane(monkeypatch)
    stub.add_client_error("list_event_trackers", "AccessDeniedException", "not allowed", 400)
    with stub:
        PersonalizeEvents(TRACKING_ID, TransformOptions()).check()
        stub.assert_no_pending_responses()
