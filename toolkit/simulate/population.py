"""Who visits, who registers and who comes back: planned up front so days can be simulated apart.

Each (day, platform) is one shard with its own derived seed. A shard needs to know which users
registered on earlier days and still come back; that depends only on the funnel draws of those
days, which use a stream of their own, so the plan is cheap and every shard is independent:
the output does not depend on how many workers run the shards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from toolkit.segment.ids import derive_seed
from toolkit.simulate.scenario import Journey, Scenario


@dataclass(frozen=True)
class Shard:
    """One day of one platform source."""

    run_seed: int
    day: date
    platform: str  # source key
    progress: np.ndarray  # (new visitors, new_visitors journeys): steps reached in each
    identifies: np.ndarray  # (new visitors, new_visitors journeys): identified at the journey's end
    returning_day: np.ndarray  # registered users on this pass: the ordinal of their registration day,...
    returning_platform: (
        np.ndarray
    )  # ...the platform they registered on (index into the scenario's platforms)...
    returning_index: np.ndarray  # ...and their visitor index on that day and platform

    @property
    def seed(self) -> int:
        return derive_seed(self.run_seed, self.day.isoformat(), self.platform)

    def user_seed_base(self, day: date, platform: str) -> int:
        """Visitor i who first came on `day` to `platform` has seed base + i (mod 2**64)."""
        return derive_seed(self.run_seed, day.isoformat(), platform, "users")


def funnel_lengths(rng: np.random.Generator, journey: Journey, users: int) -> np.ndarray:
    """How many steps of a funnel each user walks: none if the first does not happen (start_chance)."""
    chances = np.array([journey.continue_chance(k) for k in range(len(journey.steps) - 1)])
    going_on = rng.random((users, len(chances))) < chances
    started = rng.random(users) < journey.start_chance
    return started * (1 + np.cumprod(going_on, axis=1).sum(axis=1, dtype=np.int64))


def completed(journey: Journey, reached: np.ndarray) -> np.ndarray:
    return np.full(len(reached), journey.mode != "funnel") | (reached == len(journey.steps))


def visitor_progress(
    scenario: Scenario, seed: int, day: date, platform: str, first_day: date
) -> tuple[np.ndarray, np.ndarray]:
    """Steps reached by each new visitor of a day in each new_visitors journey (other modes: all),
    and whether it identified them at its end."""
    rng = np.random.default_rng(derive_seed(seed, day.isoformat(), platform, "progress"))
    visitors = scenario.visitors_on(day, first_day)
    journeys = scenario.journeys_for("new_visitors")
    progress = [
        funnel_lengths(rng, j, visitors) if j.mode == "funnel" else np.full(visitors, len(j.steps))
        for j in journeys
    ]
    identifies = [
        j.identify_on_complete & completed(j, reached) & (rng.random(visitors) < j.identify_chance)
        for j, reached in zip(journeys, progress, strict=True)
    ]
    if not journeys:
        return np.zeros((visitors, 0), dtype=np.int64), np.zeros((visitors, 0), dtype=bool)
    return np.stack(progress, axis=1), np.stack(identifies, axis=1)


@dataclass
class _Registered:
    """Registered users as (registration day ordinal, platform index, visitor index) columns."""

    day: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    platform: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def plus(self, day: date, platform: int, new: np.ndarray) -> _Registered:
        return _Registered(
            np.concatenate([np.full(len(new), day.toordinal()), self.day]),
            np.concatenate([np.full(len(new), platform), self.platform]),
            np.concatenate([new, self.index]),
        )

    def subset(self, keep: np.ndarray) -> _Registered:
        return _Registered(self.day[keep], self.platform[keep], self.index[keep])


def plan_shards(scenario: Scenario, seed: int, start: date, days: int) -> list[Shard]:
    """Every (day, platform) shard of a run, with its visitors' progress and its returning users.

    returning = "later_days": registered users come back to their own platform on each later day
    with chance `retention`. returning = "next_pass": a day is platform passes in `passes` order,
    and the users handed from the previous pass (its newly identified ones and those it kept,
    each with chance `retention`) are the returning users of this pass, on this pass's platform.
    """
    plan = _plan_later_days if scenario.returning == "later_days" else _plan_next_pass
    return sorted(plan(scenario, seed, start, days), key=lambda s: (s.day, s.platform))


def _plan_later_days(scenario: Scenario, seed: int, start: date, days: int) -> list[Shard]:
    shards = []
    for number, platform in enumerate(scenario.platforms):
        registered, stays = _Registered(), np.zeros(0, dtype=np.int64)
        for offset in range(days):
            day = start + timedelta(days=offset)
            progress, identifies = visitor_progress(scenario, seed, day, platform.key, start)
            back = registered.subset(
                ((day.toordinal() - registered.day) <= stays)
                & _visits(scenario, seed, day, platform.key, start, len(stays))
            )
            shards.append(
                Shard(seed, day, platform.key, progress, identifies, back.day, back.platform, back.index)
            )
            new = np.flatnonzero(identifies.any(axis=1))
            retention_rng = np.random.default_rng(
                derive_seed(seed, day.isoformat(), platform.key, "retention")
            )
            registered = registered.plus(day, number, new)
            stays = np.concatenate(
                [_days_retained(retention_rng, scenario.retention, len(new), days - offset), stays]
            )
    return shards


def _plan_next_pass(scenario: Scenario, seed: int, start: date, days: int) -> list[Shard]:
    shards = []
    numbers = {platform.key: number for number, platform in enumerate(scenario.platforms)}
    handed = _Registered()
    for offset in range(days):
        day = start + timedelta(days=offset)
        for key in scenario.passes:
            progress, identifies = visitor_progress(scenario, seed, day, key, start)
            shards.append(
                Shard(seed, day, key, progress, identifies, handed.day, handed.platform, handed.index)
            )
            retention_rng = np.random.default_rng(derive_seed(seed, day.isoformat(), key, "retention"))
            kept = handed.subset(retention_rng.random(len(handed.day)) < scenario.retention)
            handed = kept.plus(day, numbers[key], np.flatnonzero(identifies.any(axis=1)))
    return shards


def _visits(
    scenario: Scenario, seed: int, day: date, platform: str, first_day: date, users: int
) -> np.ndarray:
    """Which of the users still retained visit on `day`: visit_chance, scaled by the weekday's weight."""
    if scenario.visit_chance >= 1.0 and scenario.rhythm is None:
        return np.ones(users, dtype=bool)
    weekday = 1.0 if scenario.rhythm is None else scenario.rhythm.weekday_factor(day)
    rng = np.random.default_rng(derive_seed(seed, day.isoformat(), platform, "visits"))
    return rng.random(users) < min(1.0, scenario.visit_chance * weekday)


def _days_retained(rng: np.random.Generator, retention: float, users: int, most: int) -> np.ndarray:
    """Consecutive later days each registered user comes back: P(at least k) = retention ** k."""
    if retention >= 1.0:
        return np.full(users, most)
    return np.minimum(rng.geometric(1.0 - retention, users) - 1, most)
