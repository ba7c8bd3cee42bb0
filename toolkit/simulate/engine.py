"""Simulate one shard (one day of one platform) into Segment messages, as Segment would store them.

Clock model: a user's device clock is off by `skew`; the library queues a message for `queue` ms
and the network takes `wire` ms. With T the true event time:
originalTimestamp = T + skew, sentAt = T + skew + queue, receivedAt = T + queue + wire, and
Segment's correction timestamp = receivedAt - (sentAt - originalTimestamp) = T + wire.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import orjson

from toolkit.segment.ids import HashStream, derive_seed
from toolkit.segment.layout import received_day_ms
from toolkit.segment.libraries import LIBRARIES, Library
from toolkit.segment.messages import MessageWriter
from toolkit.segment.timestamps import day_epoch_ms
from toolkit.simulate.population import Shard, completes, funnel_length
from toolkit.simulate.scenario import Journey, Scenario, Source
from toolkit.simulate.values import FakerPool

DEVICE_VARIANTS = 64  # distinct device/app/locale combinations per platform
_PUBLIC_FIRST_OCTETS = (23, 24, 34, 45, 52, 63, 66, 71, 74, 98, 104, 107, 142, 151, 172, 184, 199, 208)
_MASK64 = (1 << 64) - 1


def simulated_write_key(source: Source) -> str:
    """The write key simulated messages carry: derived from the source id, not a secret."""
    return "sim" + "%016x%016x" % (derive_seed(source.id, "write-key", 1), derive_seed(source.id, "write-key", 2))


@dataclass
class User:
    stream: HashStream  # the user's own draws: identity, device, user id, traits
    anonymous_id: str
    skew_ms: int
    ip: str
    shared_context: dict  # one of the platform's device/app variants
    device_ids: dict
    user_id: str | None = None


@dataclass
class Output:
    """A shard's log lines by (source key, received day, hour of day), and messages per event."""

    batches: dict[tuple[str, int, int], bytearray] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)


class ShardSimulation:
    def __init__(self, scenario: Scenario, shard: Shard):
        self.scenario = scenario
        self.shard = shard
        self.platform = scenario.sources[shard.platform]
        self.library: Library = LIBRARIES[self.platform.library]
        self.rng = random.Random(shard.seed)
        self.faker = FakerPool(shard.run_seed)
        variants = random.Random(derive_seed(shard.run_seed, self.platform.key, "devices"))
        self.device_variants = [self.library.context(variants) for _ in range(DEVICE_VARIANTS)]
        self.writers = {key: MessageWriter(source.id, LIBRARIES[source.library], simulated_write_key(source)) for key, source in scenario.sources.items()}
        self.server_contexts = {key: self._server_context(source) for key, source in scenario.sources.items()}
        self.new_journeys = scenario.journeys_for("new_visitors")
        self.returning_journeys = scenario.journeys_for("returning")
        self.output = Output()
        self._user_seed_bases: dict[date, int] = {}

    def run(self) -> Output:
        day_ms = day_epoch_ms(self.shard.day)
        start = day_ms + self.scenario.day_start_seconds * 1000
        arrival_ms = self.scenario.arrival_seconds * 1000
        for index, reached in enumerate(self.shard.progress):
            user = self._user(self.shard.day, index, identified=False)
            clock = start + int(self.rng.random() * arrival_ms)
            for journey, steps in zip(self.new_journeys, reached):
                clock = self._walk(journey, user, clock, steps)
        for reg_day, index in self.shard.returning:
            user = self._user(reg_day, index, identified=True)
            clock = start + int(self.rng.random() * arrival_ms)
            for journey in self.returning_journeys:
                clock = self._walk(journey, user, clock, None)
        return self.output

    def _walk(self, journey: Journey, user: User, clock: int, reached: int | None) -> int:
        """Emit one journey for a user from `clock`; returns the time of its last message."""
        source = self.scenario.sources[journey.source] if journey.source else self.platform
        context = self._context_json(user, source)
        gap_low, gap_span = journey.gap_seconds[0] * 1000, (journey.gap_seconds[1] - journey.gap_seconds[0]) * 1000
        rng = self.rng
        first = True
        for step in self._steps(journey, reached):
            if not first:
                clock += int(gap_low + rng.random() * gap_span)
            first = False
            properties = {name: spec.draw(rng, self.faker) for name, spec in step.properties.items()}
            self._emit(source, user, context, step.event, properties, None, clock)
        if journey.identify_on_complete and completes(journey, reached or len(journey.steps)):
            clock += int(gap_low + rng.random() * gap_span)
            self._identify(source, user, clock)
            if journey.then:
                then = self.scenario.journeys[journey.then]
                follow_reached = funnel_length(rng, then) if then.mode == "funnel" else None
                self._walk(then, user, clock + int(rng.uniform(*then.gap_seconds) * 1000), follow_reached)
        return clock

    def _steps(self, journey: Journey, reached: int | None):
        if journey.mode == "funnel":
            yield from journey.steps[: len(journey.steps) if reached is None else reached]
            return
        rng = self.rng
        for step in journey.steps:
            if rng.random() < step.chance:
                yield step
                while rng.random() < step.repeat:
                    yield step

    def _identify(self, source: Source, user: User, clock: int) -> None:
        user.user_id = self._user_id(user.stream)
        specs = {**self.scenario.traits, **source.traits}
        traits = {name: spec.draw(user.stream, self.faker) for name, spec in specs.items()}
        self._emit(source, user, self._context_json(user, source), None, None, traits, clock)

    def _emit(self, source: Source, user: User, context: str, event: str | None, properties: dict | None, traits: dict | None, true_ms: int) -> None:
        """One message: a track (event, properties) or an identify (traits)."""
        writer = self.writers[source.key]
        library = writer.library
        rng = self.rng
        queue = library.send_delay_ms[0] + int(rng.random() * (library.send_delay_ms[1] - library.send_delay_ms[0]))
        wire = library.network_ms[0] + int(rng.random() * (library.network_ms[1] - library.network_ms[0]))
        received = true_ms + queue + wire
        times = (true_ms + user.skew_ms, true_ms + user.skew_ms + queue, received, true_ms + wire)
        if traits is None:
            line = writer.track(user.anonymous_id, context, event, properties, library.message_id(rng), times, user.user_id)
            self.output.counts[(source.key, event)] += 1
        else:
            line = writer.identify(user.anonymous_id, context, traits, library.message_id(rng), times, user.user_id)
            self.output.counts[(source.key, "identify")] += 1
        day = received_day_ms(received)
        batch_key = (source.key, day, (received - day) // 3_600_000)
        batch = self.output.batches.get(batch_key)
        if batch is None:
            batch = self.output.batches[batch_key] = bytearray()
        batch += line

    def _user(self, day: date, index: int, identified: bool) -> User:
        """A platform user, the same on every day they come: everything is drawn from their own seed."""
        base = self._user_seed_bases.get(day)
        if base is None:
            base = self._user_seed_bases[day] = self.shard.user_seed_base(day)
        stream = HashStream((base + index) & _MASK64)
        skew = stream.randint(-1500, 1500) if stream.random() < 0.95 else stream.randint(-600_000, 600_000)
        variant = self.device_variants[stream.randrange(DEVICE_VARIANTS)]
        user = User(stream, self.library.anonymous_id(stream), skew, _public_ip(stream), variant, self.library.draw_device_ids(stream))
        if identified:
            user.user_id = self._user_id(stream)
        return user

    def _user_id(self, stream: HashStream) -> str:
        low = 10 ** (self.scenario.user_id_digits - 1)
        return str(stream.randrange(low, 10 * low))

    def _context_json(self, user: User, source: Source) -> str:
        """The context a message from `user` to `source` carries, as JSON text."""
        if source is not self.platform:
            return self.server_contexts[source.key]
        context = self.library.user_context(user.shared_context, user.device_ids, user.ip, user.anonymous_id, user.user_id)
        return orjson.dumps(context, option=orjson.OPT_SORT_KEYS).decode()

    def _server_context(self, source: Source) -> str:
        rng = random.Random(derive_seed(self.shard.seed, "server", source.key))
        context = dict(LIBRARIES[source.library].context(rng), ip=_public_ip(rng))
        return orjson.dumps(context, option=orjson.OPT_SORT_KEYS).decode()


def _public_ip(rng) -> str:
    first = _PUBLIC_FIRST_OCTETS[rng.randrange(len(_PUBLIC_FIRST_OCTETS))]
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
