"""Simulate one shard (one day of one platform) as columns of events, vectorised with numpy.

Events carry their true time; how the devices' clocks stamp them and when Segment receives them is
delivery.py's model.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import orjson

from toolkit.segment.ids import derive_seed
from toolkit.segment.libraries import LIBRARIES
from toolkit.segment.timestamps import day_epoch_ms
from toolkit.simulate.coded import Coded
from toolkit.simulate.columns import filled
from toolkit.simulate.devices import user_variants, utc_offsets_ms
from toolkit.simulate.draws import below, drawn_by, joint_cumulative, seed_words, weighted_below
from toolkit.simulate.population import Shard, completed, funnel_lengths
from toolkit.simulate.scenario import IDENTIFY, Journey, Scenario, Step
from toolkit.simulate.sessions import walk_sessions
from toolkit.simulate.values import FakerPool, IPv4, trait_texts, trait_words

USER_WORDS = 11  # 64-bit words of identity per user (see Users)
MAX_PROPERTY_COMBINATIONS = 100_000


@dataclass
class Users:
    """A shard's users: new visitors first, then returning users. Identity words come from each
    user's seed only, so a user is the same on every day: their devices' clocks (0), ip and device
    variant (1), anonymousId (2, 3), device ids (4-7), userId (8), instance id (9, 10)."""

    seeds: np.ndarray
    words: np.ndarray = field(init=False)

    def __post_init__(self):
        self.words = seed_words(self.seeds, USER_WORDS)

    def user_ids(self, digits: int) -> np.ndarray:
        low = 10 ** (digits - 1)
        return low + below(self.words[8], 9 * low)


@dataclass
class Events:
    """Columns of a shard's messages, in the order they were simulated."""

    user: list = field(default_factory=list)  # position in Users
    source: list = field(default_factory=list)  # index into the scenario's sources
    step: list = field(default_factory=list)  # global step id, IDENTIFY for identify
    identified: list = field(default_factory=list)  # whether the message carries userId
    time: list = field(default_factory=list)  # true event time, epoch ms
    payload: list = field(
        default_factory=list
    )  # properties given as text: index into ShardSimulation.payloads (0: drawn from the step)
    page: list = field(
        default_factory=list
    )  # the page it happens on: index into ShardSimulation.pages (-1: none given)
    _joined: dict | None = None

    def add(self, user, source, step, identified, time, payload=0, page=-1) -> None:
        n = len(user)
        self._joined = None
        self.user.append(user)
        self.source.append(np.full(n, source, dtype=np.int64))
        self.step.append(filled(step, n, np.int64))
        self.identified.append(filled(identified, n, bool))
        self.time.append(np.asarray(time, dtype=np.int64))
        self.payload.append(filled(payload, n, np.int64))
        self.page.append(filled(page, n, np.int64))

    def columns(self) -> dict[str, np.ndarray]:
        """The parts joined into one array per column (once: callers share the result)."""
        if self._joined is None:
            self._joined = {
                name: np.concatenate(getattr(self, name))
                if getattr(self, name)
                else np.zeros(0, dtype=np.int64)
                for name in ("user", "source", "step", "identified", "time", "payload", "page")
            }
        return self._joined


def simulated_write_key(source) -> str:
    """The write key simulated messages carry: derived from the source id, not a secret."""
    return "sim" + "{:016x}{:016x}".format(
        derive_seed(source.id, "write-key", 1),
        derive_seed(source.id, "write-key", 2),
    )


@dataclass
class SimulatedShard:
    """A simulated shard as values, for the serializer to lay out (serialize.shard_rows): its
    events in simulation order with each one's properties, how to make the identify traits of a
    user from their seed, each user's context.ip, and the generator the message-level draws go on
    from."""

    scenario: Scenario
    shard: Shard
    source_keys: list[str]
    platform_index: int  # the shard's platform, in source_keys
    steps: list[Step]  # by global step id
    users: Users
    events: dict[str, np.ndarray]  # Events.columns(), and "properties": codes into property_texts
    property_texts: list[str]
    trait_fields: Callable[[np.ndarray], dict[str, np.ndarray]]  # seeds -> each identify trait's JSON texts
    traits_key: tuple  # what the trait texts depend on besides the seed (see seed_memo)
    ips: list[np.ndarray] | list[str]  # each user's context.ip: four octet columns, or JSON texts
    pages: list[str]  # context.page texts given with events (events["page"])
    rng: np.random.Generator  # for the message-level draws: delays, ids, delivery

    @property
    def platform(self) -> str:
        return self.shard.platform


class ShardSimulation:
    def __init__(self, scenario: Scenario, shard: Shard, tables: dict | None = None):
        self.scenario = scenario
        self.shard = shard
        self.tables = (
            {} if tables is None else tables
        )  # derived from the scenario: shareable by its shards (_step_table)
        self.rng = np.random.default_rng(shard.seed)
        self.faker = FakerPool(shard.run_seed)
        self.source_keys = list(scenario.sources)
        self.platform_index = self.source_keys.index(shard.platform)
        self.steps: list[Step] = [step for journey in scenario.journeys.values() for step in journey.steps]
        offsets = itertools.accumulate([len(j.steps) for j in scenario.journeys.values()], initial=0)
        # offsets runs one past the journeys (initial=0 adds the start), so zip stops at the last journey
        self.step_base = dict(zip(scenario.journeys, offsets, strict=False))
        new_seeds = self._seeds(shard.day, shard.platform, np.arange(len(shard.progress)))
        back_seeds = np.zeros(len(shard.returning_day), dtype=np.uint64)
        platforms = [source.key for source in scenario.platforms]
        for ordinal, number in set(
            zip(shard.returning_day.tolist(), shard.returning_platform.tolist(), strict=True)
        ):
            same = (shard.returning_day == ordinal) & (shard.returning_platform == number)
            back_seeds[same] = self._seeds(
                date.fromordinal(ordinal), platforms[number], shard.returning_index[same]
            )
        self.users = Users(np.concatenate([new_seeds, back_seeds]))
        self.new_visitors = len(new_seeds)
        self.events = Events()
        self.payloads: list[str] = [""]  # properties texts given with events (Events.payload)
        self.pages: list[str] = []  # context.page texts given with events (Events.page)

    def _seeds(self, day: date, platform: str, indexes: np.ndarray) -> np.ndarray:
        base = np.uint64(self.shard.user_seed_base(day, platform))
        with np.errstate(over="ignore"):
            return base + indexes.astype(np.uint64)

    def simulate(self) -> SimulatedShard:
        """Run the shard and draw what its messages carry (properties, traits, ips)."""
        events = dict(self.run().columns())
        properties = self.properties_json(events["step"], events["payload"])
        events["properties"] = properties.codes
        specs = self.scenario.traits_of(self.shard.platform)
        return SimulatedShard(
            self.scenario,
            self.shard,
            self.source_keys,
            self.platform_index,
            self.steps,
            self.users,
            events,
            properties.texts,
            self.trait_fields,
            (self.shard.run_seed, repr(specs)),
            self.user_ips(),
            self.pages,
            self.rng,
        )

    def run(self) -> Events:
        """Simulate the day: new visitors' journeys, then returning users' journeys."""
        new = np.arange(self.new_visitors)
        clock = self._arrivals(new)
        for column, journey in enumerate(self.scenario.journeys_for("new_visitors")):
            clock = self._walk(
                journey, new, clock, self.shard.progress[:, column], self.shard.identifies[:, column]
            )
        back = np.arange(self.new_visitors, len(self.users.seeds))
        clock = self._arrivals(back)
        for journey in self.scenario.journeys_for("returning"):
            clock = self._walk(journey, back, clock, None, None)
        return self.events

    def _arrivals(self, users: np.ndarray) -> np.ndarray:
        """When each user's day starts (epoch ms): uniformly in the arrival hours after day_start
        (UTC), or with a [time] rhythm at an hour drawn from its day curve in the user's local time
        (the time zone of their device), so that a day's traffic crosses midnight UTC."""
        day = day_epoch_ms(self.shard.day)
        rhythm = self.scenario.rhythm
        if rhythm is None:
            return (
                day
                + self.scenario.day_start_seconds * 1000
                + self.rng.random(len(users)) * self.scenario.arrival_seconds * 1000
            )
        hour = weighted_below(self.rng.integers(0, 1 << 64, len(users), dtype=np.uint64), rhythm.hours, 24)
        hour = np.where(hour < rhythm.DAY_STARTS_AT, hour + 24, hour)  # the small hours close the day
        local = (hour + self.rng.random(len(users))) * 3_600_000
        return day + local - self.utc_offsets_ms(users)

    def last_session_starts(self, users: np.ndarray) -> np.ndarray:
        """The latest a session of each user's day may start (epoch ms): see Rhythm; no limit without one."""
        rhythm = self.scenario.rhythm
        if rhythm is None:
            return np.full(len(users), np.inf)
        local = (24 + rhythm.DAY_STARTS_AT - rhythm.LAST_SESSION_MARGIN_HOURS) * 3_600_000
        return day_epoch_ms(self.shard.day) + local - self.utc_offsets_ms(users)

    def utc_offsets_ms(self, users: np.ndarray) -> np.ndarray:
        """Each user's offset from UTC on the shard's day, by their device's time zone."""
        library = self.scenario.sources[self.shard.platform].library
        offsets = utc_offsets_ms(self.shard.run_seed, self.shard.platform, library, self.shard.day)
        return offsets[user_variants(self.users.words[1][users])]

    def counts(self) -> Counter:
        """Messages per (source key, event name, "page: <name>", "screen: <name>" or "identify") of
        what run() simulated."""
        columns = self.events.columns()
        width = len(self.steps) + 1  # step IDENTIFY (-1) is the last label
        calls = [LIBRARIES[self.scenario.sources[key].library].view_call for key in self.source_keys]
        labels = [[s.label(call) for s in self.steps] + ["identify"] for call in calls]
        tally = np.bincount(
            columns["source"] * width + columns["step"] % width, minlength=width * len(self.source_keys)
        )
        return Counter(
            {
                (self.source_keys[k // width], labels[k // width][k % width]): int(n)
                for k in np.flatnonzero(tally)
                for n in [tally[k]]
            }
        )

    def _walk(
        self,
        journey: Journey,
        users: np.ndarray,
        start: np.ndarray,
        reached: np.ndarray | None,
        identifies: np.ndarray | None,
    ) -> np.ndarray:
        """Emit a journey for `users` from their `start` times; returns when each user's journey
        ended. Each message comes a gap after the one before it; the first a gap after the start.
        In paths mode each step is a path of its own, timed from the start."""
        source = self.source_keys.index(journey.source) if journey.source else self.platform_index
        if journey.mode == "session":
            return walk_sessions(self, journey, source, users, start, identifies)
        size = len(journey.steps)
        counts = self._step_counts(journey, len(users), reached)
        flat = np.repeat(np.arange(counts.size), counts.ravel())
        who, step = flat // size, flat % size
        group = flat if journey.mode == "paths" else who  # the messages timed one after another
        gaps = self._gaps(journey.gap_seconds, len(flat))
        elapsed = np.cumsum(gaps)
        is_first = np.r_[True, group[1:] != group[:-1]] if len(group) else np.zeros(0, dtype=bool)
        first = np.maximum.accumulate(np.where(is_first, np.arange(len(flat)), 0))
        times = start[who] + elapsed - elapsed[first] + gaps[first]
        self.events.add(users[who], source, self.step_base[journey.name] + step, journey.user_id, times)
        end = start.copy()
        np.maximum.at(end, who, times)
        if journey.identify_on_complete:
            if identifies is None:
                full = np.full(len(users), size) if reached is None else reached
                identifies = completed(journey, full) & (
                    self.rng.random(len(users)) < journey.identify_chance
                )
            identified_at = end[identifies] + self._gaps(
                journey.identify_gap_seconds or journey.gap_seconds, int(identifies.sum())
            )
            self.events.add(users[identifies], source, IDENTIFY, True, identified_at)
            if journey.then:
                then = self.scenario.journeys[journey.then]
                then_reached = (
                    funnel_lengths(self.rng, then, len(identified_at)) if then.mode == "funnel" else None
                )
                self._walk(then, users[identifies], identified_at, then_reached, None)
        return end

    def _step_counts(self, journey: Journey, users: int, reached: np.ndarray | None) -> np.ndarray:
        """How often each user does each step: (users, steps)."""
        size = len(journey.steps)
        if journey.mode == "funnel":
            limit = np.full(users, size) if reached is None else reached
            return (np.arange(size)[None, :] < limit[:, None]).astype(np.int64)
        chance = np.array([s.chance for s in journey.steps])
        repeat = np.array([s.repeat for s in journey.steps])
        happens = self.rng.random((users, size)) < chance
        return happens * self.rng.geometric(1.0 - repeat, (users, size))

    def _gaps(self, gap_seconds: tuple[float, float], n: int) -> np.ndarray:
        low, high = gap_seconds
        return (low + self.rng.random(n) * (high - low)) * 1000.0

    def properties_json(self, step_ids: np.ndarray, payload: np.ndarray) -> Coded:
        """Each message's properties as JSON text: the text given with it (Events.payload), else
        drawn per message from its step's properties and its platform's (identify: "")."""
        given = payload > 0
        codes, texts = np.where(given, payload, 0), list(self.payloads)
        for step_id in np.unique(step_ids[(step_ids != IDENTIFY) & ~given]):
            where = np.flatnonzero((step_ids == step_id) & ~given)
            table, drawn = self._step_properties(step_id, len(where))
            used, drawn = np.unique(drawn, return_inverse=True)  # only the texts drawn reach Arrow
            codes[where] = len(texts) + drawn
            texts += [table[i] for i in used.tolist()]
        return Coded(codes, texts)

    def _step_properties(self, step_id: int, n: int) -> tuple[list[str], np.ndarray]:
        """The texts a step's properties can take, and which one each of n messages drew."""
        specs, names, table, cumulative = self._step_table(step_id)
        if table is not None and cumulative is not None:  # one draw of a combination, by the joint chances
            return table, drawn_by(cumulative, self.rng.integers(0, 1 << 64, n, dtype=np.uint64))
        draw_rng = random.Random(int(self.rng.integers(0, 1 << 63)))
        return [
            orjson.dumps({name: specs[name].draw(draw_rng, self.faker) for name in names}).decode()
            for _ in range(n)
        ], np.arange(n)

    def trait_fields(self, seeds: np.ndarray) -> dict[str, np.ndarray]:
        """Each identify trait's JSON text for the users of these seeds (a pure function of each seed)."""
        specs = self.scenario.traits_of(self.shard.platform)
        return {name: trait_texts(specs, name, seeds, self.faker) for name in specs}

    def _step_table(self, step_id: int) -> tuple[dict, list[str], list[str] | None, np.ndarray | None]:
        """A step's property specs on this platform and their names in order; when every value is
        discrete and there are not too many combinations, every combination's JSON text and their
        joint cumulative chances. Made once for the shards that share `tables` (a batch's: see
        run._run_batch)."""
        key = ("step", self.shard.platform, step_id)
        if key not in self.tables:
            specs = {
                **self.scenario.sources[self.shard.platform].properties,
                **self.steps[step_id].properties,
            }
            names = sorted(specs)
            options = [specs[name].discrete_values(self.faker) for name in names]
            discrete = [o for o in options if o is not None]
            sizes = [len(o) for o in discrete]
            if len(discrete) == len(options) and math.prod(sizes) <= MAX_PROPERTY_COMBINATIONS:
                cumulative = joint_cumulative([specs[name].weights() for name in names], sizes)
                self.tables[key] = (specs, names, _combinations(names, discrete), cumulative)
            else:
                self.tables[key] = (specs, names, None, None)
        return self.tables[key]

    def user_ips(self) -> list[np.ndarray] | list[str]:
        """Each user's context.ip: the four octets of an ipv4 value (laid out in SQL), or JSON texts.
        It is the scenario's context_ip trait, else a public address of the user's own."""
        name = self.scenario.context_ip
        if name is None:
            return IPv4("public").octets(self.users.words[1])
        spec = self.scenario.traits[name]
        if isinstance(spec, IPv4):
            return spec.octets(trait_words(name, self.users.seeds))
        return trait_texts(self.scenario.traits, name, self.users.seeds, self.faker).tolist()


_COMBINATIONS: dict[str, list[str]] = {}


def _combinations(names: list[str], options: list) -> list[str]:
    """Every combination of the properties' values as JSON text, in itertools.product's order;
    made once per process (a platform's properties times a step's run to thousands)."""
    key = repr((names, options))
    if key not in _COMBINATIONS:
        _COMBINATIONS[key] = [
            orjson.dumps(dict(zip(names, combo, strict=True))).decode()
            for combo in itertools.product(*options)
        ]
    return _COMBINATIONS[key]
