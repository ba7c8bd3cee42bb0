"""Who visits, who registers and who comes back: planned up front so days can be simulated apart.

Each (day, platform) is one shard with its own derived seed. A shard needs to know which users
registered on earlier days and still come back; that depends only on the funnel draws of those
days, which use a stream of their own, so the plan is cheap and every shard is independent:
the output does not depend on how many workers run the shards.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from toolkit.segment.ids import derive_seed
from toolkit.simulate.scenario import Journey, Scenario


@dataclass(frozen=True)
class Shard:
    """One day of one platform source."""

    run_seed: int
    day: date
    platform: str  # source key
    progress: tuple[tuple[int, ...], ...]  # per new visitor: steps reached in each new_visitors funnel
    returning: tuple[tuple[date, int], ...]  # registered users coming back: (registration day, visitor index)

    @property
    def seed(self) -> int:
        return derive_seed(self.run_seed, self.day.isoformat(), self.platform)

    def user_seed_base(self, day: date) -> int:
        """Visitor i who first came on `day` to this platform has seed base + i (mod 2**64)."""
        return derive_seed(self.run_seed, day.isoformat(), self.platform, "users")


def funnel_length(rng: random.Random, journey: Journey) -> int:
    """How many steps of a funnel one user walks (at least the first)."""
    reached = 1
    while reached < len(journey.steps) and rng.random() < journey.continue_chance(reached - 1):
        reached += 1
    return reached


def completes(journey: Journey, reached: int) -> bool:
    return journey.mode == "basket" or reached == len(journey.steps)


def visitor_progress(scenario: Scenario, seed: int, day: date, platform: str) -> tuple[tuple[int, ...], ...]:
    """Steps reached by each new visitor of a day in each new_visitors journey (basket journeys: all)."""
    rng = random.Random(derive_seed(seed, day.isoformat(), platform, "progress"))
    journeys = scenario.journeys_for("new_visitors")
    return tuple(
        tuple(funnel_length(rng, j) if j.mode == "funnel" else len(j.steps) for j in journeys)
        for _ in range(scenario.new_visitors_per_day)
    )


def registration_test(scenario: Scenario):
    """A function telling whether a visitor who reached these steps finished a journey that identifies them."""
    journeys = scenario.journeys_for("new_visitors")
    return lambda reached: any(j.identify_on_complete and completes(j, n) for j, n in zip(journeys, reached))


def plan_shards(scenario: Scenario, seed: int, start: date, days: int) -> list[Shard]:
    """Every (day, platform) shard of a run, with its visitors' progress and its returning users."""
    shards = []
    registers = registration_test(scenario)
    for platform in scenario.platforms:
        registered: list[tuple[date, int, int]] = []  # (day, visitor index, days they come back)
        for offset in range(days):
            day = start + timedelta(days=offset)
            progress = visitor_progress(scenario, seed, day, platform.key)
            returning = tuple((reg_day, index) for reg_day, index, stays in registered if (day - reg_day).days <= stays)
            shards.append(Shard(seed, day, platform.key, progress, returning))
            retention_rng = random.Random(derive_seed(seed, day.isoformat(), platform.key, "retention"))
            for index, reached in enumerate(progress):
                if registers(reached):
                    registered.append((day, index, _days_retained(retention_rng, scenario.retention, days - offset)))
    shards.sort(key=lambda s: (s.day, s.platform))
    return shards


def _days_retained(rng: random.Random, retention: float, most: int) -> int:
    """Consecutive later days a registered user comes back: P(at least k) = retention ** k."""
    stays = 0
    while stays < most and rng.random() < retention:
        stays += 1
    return stays
