"""Segment's Amazon Personalize destination for live events, done as the workshop's destination
Lambda means to: each event the transform would keep (its filters, its item id, its EVENT_TYPE) is
put on a Personalize event tracker with PutEvents.

`--out personalize-events://TRACKING_ID[?item-id=product_id&domain=ecommerce&event-types=A,B]`
(the transform's --item-id, --domain and --event-types, so that live events match the imported
CSV). Per call, one session: `sessionId` is the message's anonymousId (its userId when it has
none), `userId` its userId; up to 10 events. Each event: `eventId` the messageId (with `-N` when a
products[] array makes several), `eventType`, `itemId` (and `properties` {"itemId": ...}, as the
workshop's Lambda sends it), and `sentAt` the message's timestamp in epoch seconds, the same floor
second the CSV holds, computed in UTC whatever the machine's time zone (the workshop's and
Segment's sample Lambdas use `strftime('%s')`, which reads the time as local: hours off outside
UTC). Throttling is retried with backoff; a batch Personalize refuses is sent again event by
event so that only the refused events are counted as not sent; any other failure raises.
"""

from __future__ import annotations

import json
import urllib.parse
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import botocore.exceptions
import orjson

from toolkit.aws.personalize import Backoff, error_code
from toolkit.aws.s3 import AwsOptions
from toolkit.errors import UsageError
from toolkit.segment.destination import DeliveryCounts
from toolkit.transforming.classify_lines import Classified, LineClassifier
from toolkit.transforming.summary import ITEM_FIELDS, TransformOptions

SCHEME = "personalize-events://"
MAX_EVENTS = 10  # PutEvents takes 1 to 10 events a call
MAX_BUFFERED = 5_000  # events held for batching before they are sent, whatever the caller's flushes
QUERY_OPTIONS = ("item-id", "domain", "event-types")


@dataclass
class _Message:
    """A kept message whose events are not all put yet."""

    events: int
    refused: bool = False


Event = tuple[dict[str, Any], _Message]


def parse_url(out: str) -> tuple[str, TransformOptions]:
    """The tracking id and the transform's options a personalize-events:// value names."""
    parsed = urllib.parse.urlsplit(out)
    tracking_id = parsed.netloc
    if not out.lower().startswith(SCHEME) or not tracking_id or parsed.path not in ("", "/"):
        raise UsageError(
            f"`out` {out!r}: give personalize-events://TRACKING_ID (the event tracker's tracking id)",
            parameters=("out",),
        )
    query = urllib.parse.parse_qs(parsed.query)
    unknown = sorted(set(query) - set(QUERY_OPTIONS))
    if unknown:
        raise UsageError(
            f"`out` {out!r}: unknown option {unknown[0]!r}; it takes {', '.join(QUERY_OPTIONS)}",
            parameters=("out",),
        )
    item_id = query.get("item-id", ["sku"])[-1]
    if item_id not in ITEM_FIELDS:
        raise UsageError(
            f"`out` {out!r}: item-id must be one of {', '.join(ITEM_FIELDS)}", parameters=("out",)
        )
    events = query.get("event-types", [None])[-1]
    chosen = tuple(e.strip() for e in events.split(",") if e.strip()) if events is not None else None
    return tracking_id, TransformOptions.for_domain(
        item_field=item_id, domain=query.get("domain", [None])[-1], event_types=chosen
    )


class PersonalizeEvents:
    """A Segment destination (toolkit.segment.destination.Destination) putting events on a tracker."""

    def __init__(self, tracking_id: str, options: TransformOptions, aws: AwsOptions | None = None):
        self.tracking_id, self.options, self.aws = tracking_id, options, aws or AwsOptions()
        self.classifier = LineClassifier(options)
        self.counts = DeliveryCounts()
        self.backoff = Backoff()
        self._client: Any = None
        self._sessions: dict[tuple[str, str | None], list[Event]] = defaultdict(list)
        self._buffered = 0

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None}

    @property
    def name(self) -> str:
        return f"{SCHEME}{self.tracking_id}"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.aws.client("personalize-events")
        return self._client

    def check(self) -> None:
        """The tracker exists, when the credentials may list trackers (Personalize's control plane)."""
        personalize = self.aws.client("personalize")
        try:
            for page in personalize.get_paginator("list_event_trackers").paginate():
                for tracker in page.get("eventTrackers", []):
                    described = personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])
                    if described["eventTracker"].get("trackingId") == self.tracking_id:
                        return
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in ("AccessDeniedException", "AccessDenied"):
                return  # PutEvents may still be allowed: the first call tells
            raise
        raise UsageError(
            f"`out` {self.name}: no event tracker in this account and region has that tracking id; "
            "create one (aws personalize create-event-tracker --name NAME --dataset-group-arn ARN) "
            "and use its trackingId",
            parameters=("out",),
        )

    def claim(self, run: str) -> None:
        """Nothing to claim: a tracker cannot tell whose events it holds."""

    def deliver(self, source_id: str, lines: Sequence[bytes]) -> None:
        for line, message in zip(lines, self.classifier.classify(lines), strict=True):
            if message.reason is not None:
                self.counts.not_sent[message.reason] += 1
                continue
            self._queue(line, message)
        if self._buffered >= MAX_BUFFERED:
            self.flush()

    def _queue(self, line: bytes, message: Classified) -> None:
        assert message.message_id is not None and message.user_id is not None
        anonymous_id = orjson.loads(line).get("anonymousId")
        session = str(anonymous_id) if anonymous_id not in (None, "") else message.user_id
        pending = _Message(len(message.item_ids))
        several = len(message.item_ids) > 1
        for position, item_id in enumerate(message.item_ids):
            event = {
                "eventId": f"{message.message_id}-{position}" if several else message.message_id,
                "eventType": message.event_type,
                "sentAt": message.timestamp,
                "itemId": item_id,
                "properties": json.dumps({"itemId": item_id}),
            }
            self._sessions[session, message.user_id].append((event, pending))
        self._buffered += len(message.item_ids)

    def flush(self) -> None:
        """Put every event held; what Personalize refuses is counted, anything else raises (and
        what was held is dropped: a caller that re-delivers on failure sends it again)."""
        sessions, self._sessions, self._buffered = self._sessions, defaultdict(list), 0
        for (session, user_id), events in sessions.items():
            for start in range(0, len(events), MAX_EVENTS):
                self._put(session, user_id, events[start : start + MAX_EVENTS])

    def _put(self, session: str, user_id: str | None, events: list[Event]) -> None:
        retries = self.backoff.retries
        try:
            self.counts.requests += 1
            self.backoff.call(
                self.client.put_events,
                trackingId=self.tracking_id,
                sessionId=session,
                **({"userId": user_id} if user_id else {}),
                eventList=[event for event, _ in events],
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "InvalidInputException":
                raise
            if len(events) > 1:  # find the refused ones: each alone
                for one in events:
                    self._put(session, user_id, [one])
                return
            message = events[0][1]
            if not message.refused:
                message.refused = True
                self.counts.not_sent[f"refused by Personalize ({error_code(exc)})"] += 1
            return
        finally:
            self.counts.retries += self.backoff.retries - retries
        for _, message in events:
            message.events -= 1
            if message.events == 0 and not message.refused:
                self.counts.delivered += 1

    def close(self) -> DeliveryCounts:
        try:
            self.flush()
        finally:
            self.classifier.close()
        return self.counts


def open_tracker(out: str, aws: AwsOptions) -> PersonalizeEvents:
    tracking_id, options = parse_url(out)
    return PersonalizeEvents(tracking_id, options, aws)
