"""The clock and delivery model: when each message is stamped, sent and received, library by library.

Clocks. Every device keeps its own clock, off from true time by its skew (device_skew_ms): most
within a few tens of milliseconds (NTP, NITZ), a tail seconds to minutes off, hours off (time-zone
bugs) and days off (a date set by hand). A server library's clock is right (skew 0). A message made
at true time T carries originalTimestamp = T + skew.

Batches. A library queues messages and sends them in requests (HABITS): analytics.js posts each
message alone; analytics-android, -ios, -kotlin and -swift close a batch at their count trigger
(flushAt, 20) or at each tick of their flush timer (flushInterval, 30 s, from a moment of the
device's own); analytics-python's one queue (all the server's users) goes every 0.5 s, at most 100.
A request's messages share one sentAt and Segment stamps them one receivedAt (receivedAt =
the moment the request leaves + its network time, one draw per request).

sentAt. analytics.js, -android, -ios and -python write it when the request is made, at every
attempt ("upload"); analytics-kotlin and -swift when they close the batch file, which is then
uploaded as it is, retries included ("close").

Offline. A device offline for the day (Delivery.offline_chance, mobile libraries) keeps its queue
until it is back, hours after its last message. analytics-android and -ios then send the backlog in
uploads of at most `upload_cap` messages, `backlog_gap_ms` apart, each with a new sentAt;
analytics-kotlin and -swift upload the batch files they closed while offline, one after another,
each with the sentAt it was closed with, so their corrected timestamps land near receivedAt, hours
after the events (as Segment's docs warn for these libraries).

Retries. A request is delivered twice with Delivery.duplicate_chance (its response lost, so the
library sent it again `retry_seconds` later): every message of it again, with the same messageId;
the repeat has its own network time and, for "upload" libraries, its own sentAt.

Segment's correction: timestamp = receivedAt - (sentAt - originalTimestamp).

The work is a sort of the messages by device and time, then numpy over requests: no Python per message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.segment.ids import derive_seed
from toolkit.simulate.columns import distinct_codes
from toolkit.simulate.draws import below, splitmix64, unit
from toolkit.simulate.scenario import Delivery

UPLOAD, CLOSE = "upload", "close"  # when a library writes sentAt


@dataclass(frozen=True)
class Habits:
    """How one library queues, batches, stamps and repeats its requests (its source at the named version)."""

    flush_at: int  # messages that close a batch at once (the count trigger)
    flush_ms: int  # the flush timer's period: a batch closes at the latest at the next tick
    sent_at: str  # UPLOAD: written at each attempt; CLOSE: when the batch closes, kept on retries
    network_ms: tuple[int, int]  # from the request leaving to Segment receiving it
    dispatch_ms: int  # from the flush to the request leaving (writing, compressing)
    upload_cap: int = 1  # most messages one upload of a backlog carries (UPLOAD libraries)
    backlog_gap_ms: int = 0  # between the uploads that empty a backlog
    offline_queue: bool = False  # keeps its queue on the device while offline (mobile)
    server_clock: bool = False  # runs on a server, whose clock is right
    shared_queue: bool = False  # one queue for every user of the source (a server library)


# analytics-next 1.53.0: plugins/segmentio/index.ts posts each event alone, normalize.ts sets sentAt.
# analytics-android 4.11.3: Utils.java DEFAULT_FLUSH_QUEUE_SIZE 20, DEFAULT_FLUSH_INTERVAL 30 s;
#   SegmentIntegration.java writes sentAt per upload (BatchPayloadWriter.endObject), a batch at most
#   MAX_BATCH_SIZE 475 KB (about 300 of its messages), uploading until the queue is empty.
# analytics-ios 4.1.8: SEGAnalyticsConfiguration.m flushAt 20, flushInterval 30; SEGSegmentIntegration.m
#   sendData writes sentAt, maxBatchSize 100, one batch a flush (the next at the next tick).
# analytics-kotlin 1.19.2 / analytics-swift 1.7.3: Configuration flushAt 20, flushInterval 30;
#   EventPipeline.kt upload() rolls the batch file over (StorageImpl.kt writes sentAt) before
#   uploading, and uploads stored files as they are; swift DirectoryStore.swift finishFile likewise.
# segment-analytics-python 2.4: consumer.py upload_size 100, upload_interval 0.5 s; request.py sets sentAt.
HABITS = {
    "analytics.js": Habits(1, 1, UPLOAD, (20, 400), 40),
    "analytics-android": Habits(
        20, 30_000, UPLOAD, (50, 2_000), 50, upload_cap=300, backlog_gap_ms=500, offline_queue=True
    ),
    "analytics-ios": Habits(
        20, 30_000, UPLOAD, (50, 2_000), 50, upload_cap=100, backlog_gap_ms=30_000, offline_queue=True
    ),
    "analytics-kotlin": Habits(20, 30_000, CLOSE, (50, 2_000), 50, backlog_gap_ms=500, offline_queue=True),
    "analytics-swift": Habits(20, 30_000, CLOSE, (50, 2_000), 50, backlog_gap_ms=500, offline_queue=True),
    "analytics-python": Habits(100, 500, UPLOAD, (5, 120), 5, server_clock=True, shared_queue=True),
}

# Device clocks: (share of devices, lowest and highest |skew| in ms); the sign is the device's own.
SKEW_TAIL = (
    (0.008, 1_000, 600_000),  # drifting, no time sync: seconds to minutes
    (0.01, 3_600_000, 12 * 3_600_000),  # a wrong time zone: whole hours (and the drift)
    (0.002, 86_400_000, 30 * 86_400_000),  # a date set by hand: days
)
SKEW_SYNCED_MS = 30  # the rest: within this of true time
_TIME_BITS = 36  # the sort key: device, then time since the shard's first message (2 years of ms)


def device_skew_ms(words: np.ndarray) -> np.ndarray:
    """Each device's clock skew from its word (a pure function, so a device keeps its clock every day)."""
    u = unit(words)
    spread = unit(splitmix64(words))
    sign = np.where(words & np.uint64(1), 1, -1)
    skew = (below(words >> np.uint64(8), 2 * SKEW_SYNCED_MS + 1) - SKEW_SYNCED_MS).astype(np.float64)
    floor = 1.0 - sum(share for share, _, _ in SKEW_TAIL)
    for share, low, high in SKEW_TAIL:
        tail = (u >= floor) & (u < floor + share)
        skew = np.where(tail, sign * (low + spread * (high - low)), skew)
        floor += share
    return skew.astype(np.int64)


@dataclass
class Delivered:
    """Each row Segment stores (a message, or a repeat of one) with its four times (epoch ms).
    Rows are in device order, each device's in time order, repeats after all first deliveries."""

    event: np.ndarray  # the event (index into the shard's events) the row delivers
    original: np.ndarray  # originalTimestamp: the device's clock when the message was made
    sent: np.ndarray  # sentAt: the device's clock when its request was made (or its batch closed)
    received: np.ndarray  # receivedAt: Segment's clock when the request arrived
    stamp: np.ndarray  # timestamp: Segment's correction
    request: np.ndarray  # the request the row came in (a repeat: a request of its own)

    @property
    def repeats(self) -> int:
        return len(self.event) - int(self.event.max(initial=-1)) - 1 if len(self.event) else 0


def deliver(
    *,
    user: np.ndarray,
    source: np.ndarray,
    time: np.ndarray,
    user_words: np.ndarray,
    libraries: list[str],
    source_keys: list[str],
    delivery: Delivery,
    rng: np.random.Generator,
) -> Delivered:
    """The rows Segment stores for these events (true times `time`, epoch ms), by HABITS and `delivery`.
    `user_words` is each user's word that their devices' clocks and timers derive from."""
    n, sources = len(time), len(source_keys)
    habits = [HABITS[name] for name in libraries]

    def of(name: str, dtype=np.int64) -> np.ndarray:
        return np.array([getattr(h, name) for h in habits], dtype=dtype)

    shared = of("shared_queue", bool)
    users = len(user_words)
    device_key = np.where(shared[source], users * sources + source, user * sources + source)
    devices, device = distinct_codes(device_key, (users + 1) * sources)
    device_source = devices % sources
    salts = np.array([derive_seed("device", key) for key in source_keys], dtype=np.uint64)
    device_user = np.minimum(devices // sources, max(users - 1, 0))
    base = np.where(shared[device_source], np.uint64(0), user_words[device_user] if users else np.uint64(0))
    word = splitmix64(base ^ salts[device_source])
    skew = np.where(of("server_clock", bool)[device_source], 0, device_skew_ms(word))
    flush_ms = of("flush_ms")[device_source]
    phase = (word >> np.uint64(24)).astype(np.int64) % flush_ms

    start = int(time.min()) if n else 0
    order = np.argsort((device << _TIME_BITS) | (time - start), kind="stable")
    d, t = device[order], time[order]
    first = np.r_[True, d[1:] != d[:-1]] if n else np.zeros(0, dtype=bool)
    position = np.arange(n)
    device_start = np.maximum.accumulate(np.where(first, position, 0))
    tick = (t - phase[d]) // flush_ms[d]
    group = first | np.r_[False, tick[1:] != tick[:-1]]
    rank = position - np.maximum.accumulate(np.where(group, position, 0))
    flush_at = of("flush_at")[device_source]
    new_batch = group | (rank % flush_at[d] == 0)

    offline = np.zeros(len(devices), dtype=bool)
    back_online = np.zeros(len(devices), dtype=np.int64)
    if delivery.offline_chance:
        offline = of("offline_queue", bool)[device_source] & (
            rng.random(len(devices)) < delivery.offline_chance
        )
        wait = (rng.uniform(*delivery.offline_hours, len(devices)) * 3_600_000).astype(np.int64)
        ends = np.r_[np.flatnonzero(first)[1:], n] - 1  # each device's last message
        back_online[d[ends]] = t[ends] + wait[d[ends]]
        regroup = offline & (of("sent_at", object) == UPLOAD)[device_source]
        chunk = (position - device_start) // of("upload_cap")[device_source][d]
        new_batch = np.where(regroup[d], first | np.r_[False, chunk[1:] != chunk[:-1]], new_batch)

    batch = np.cumsum(new_batch) - 1
    heads = np.flatnonzero(new_batch)
    tails = np.r_[heads[1:], n] - 1
    owner = d[heads]
    every = np.arange(len(heads))
    full = tails - heads + 1 == flush_at[owner]
    closed = np.where(full, t[tails], phase[owner] + (tick[heads] + 1) * flush_ms[owner])
    # Requests a device makes at one moment leave together (one dispatch, one trip), so an identify
    # made with a track reaches Segment with it, in one batch or not; a backlog's leave one by one.
    together = np.r_[False, (owner[1:] == owner[:-1]) & (closed[1:] == closed[:-1])] & ~offline[owner]
    trip = np.maximum.accumulate(np.where(together, 0, every))  # the first request of each departure
    closed += (rng.random(len(heads)) * of("dispatch_ms")[device_source][owner]).astype(np.int64)[trip]
    ordinal = every - np.searchsorted(heads, device_start[heads])  # the request's place among its device's
    gap = of("backlog_gap_ms")[device_source][owner]
    leaves = np.where(offline[owner], back_online[owner] + ordinal * gap, closed)
    kept_sent = (of("sent_at", object) == CLOSE)[device_source][owner]
    low, high = np.array([h.network_ms for h in habits], dtype=np.int64)[device_source][owner].T

    def network(batches: np.ndarray) -> np.ndarray:
        """A network time for each of these requests."""
        return low[batches] + (rng.random(len(batches)) * (high[batches] - low[batches])).astype(np.int64)

    sent = np.where(kept_sent, closed, leaves) + skew[owner]
    received = leaves + network(every)[trip]
    rows = position
    row_batch = batch
    if delivery.duplicate_chance:
        again = np.flatnonzero(rng.random(len(heads)) < delivery.duplicate_chance)
        retry = rng.integers(
            delivery.retry_seconds[0] * 1000, delivery.retry_seconds[1] * 1000 + 1, len(again)
        )
        again_leaves = leaves[again] + retry
        sent = np.r_[sent, np.where(kept_sent[again], sent[again], again_leaves + skew[owner[again]])]
        received = np.r_[received, again_leaves + network(again)]
        sizes = tails[again] - heads[again] + 1
        copied = np.repeat(heads[again] - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
        rows = np.r_[position, copied]
        row_batch = np.r_[batch, np.repeat(len(heads) + np.arange(len(again)), sizes)]
    original = t[rows] + skew[d[rows]]
    row_sent, row_received = sent[row_batch], received[row_batch]
    return Delivered(
        order[rows],
        original,
        row_sent,
        row_received,
        row_received - (row_sent - original),
        row_batch,
    )
