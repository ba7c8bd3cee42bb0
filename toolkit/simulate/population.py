"""Who visits, who registers and who comes back: planned up front so days can be simulated apart.

Each (day, platform) is one shard with its own derived seed. A shard needs to know which users
registered on earlier days and still come back; that depends only on the funnel draws of those
days, which use a stream of their own, so the plan is cheap and every shard is independent:
the output does not depend on how many workers run the shards.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    returning_day: np.ndarray  # registered users coming back: the ordinal of their registration day...
    returning_index: np.ndarray  # ...and their visitor index on that day

    @property
    def seed(self) -> int:
        return derive_seed(self.run_seed, self.day.isoformat(), self.platform)

    def user_seed_base(self, day: date) -> int:
        """Visitor i who first came on `day` to this platform has seed base + i (mod 2**64)."""
        return derive_seed(self.run_seed, day.isoformat(), self.platform, "users")


def funnel_lengths(rng: np.random.Generator, journey: Journey, users: int) -> np.ndarray:
    """How many steps of a funnel each user walks (at least the first)."""
    chances = np.array([journey.continue_chance(k) for k in range(len(journey.steps) - 1)])
    going_on = rng.random((users, len(chances))) < chances
    return 1 + np.cumprod(going_on, axis=1).sum(axis=1, dtype=np.int64)


def completed(journey: Journey, reached: np.ndarray) -> np.ndarray:
    return np.full(len(reached), True) if journey.mode == "basket" else reached == len(journey.steps)


def visitor_progress(scenario: Scenario, seed: int, day: date, platform: str) -> np.ndarray:
    """Steps reached by each new visitor of a day in each new_visitors journey (basket journeys: all)."""
    rng = np.random.default_rng(derive_seed(seed, day.isoformat(), platform, "progress"))
    visitors = scenario.new_visitors_per_day
    columns = [funnel_lengths(rng, j, visitors) if j.mode == "funnel" else np.full(visitors, len(j.steps)) for j in scenario.journeys_for("new_visitors")]
    return np.stack(columns, axis=1) if columns else np.zeros((visitors, 0), dtype=np.int64)


def registered(scenario: Scenario, progress: np.ndarray) -> np.ndarray:
    """Which visitors finished a journey that identifies them."""
    done = np.full(len(progress), False)
    for column, journey in enumerate(scenario.journeys_for("new_visitors")):
        if journey.identify_on_complete:
            done |= completed(journey, progress[:, column])
    return done


def plan_shards(scenario: Scenario, seed: int, start: date, days: int) -> list[Shard]:
    """Every (day, platform) shard of a run, with its visitors' progress and its returning users."""
    shards = []
    for platform in scenario.platforms:
        reg_day = np.zeros(0, dtype=np.int64)
        reg_index = np.zeros(0, dtype=np.int64)
        reg_stays = np.zeros(0, dtype=np.int64)
        for offset in range(days):
            day = start + timedelta(days=offset)
            progress = visitor_progress(scenario, seed, day, platform.key)
            back = (day.toordinal() - reg_day) <= reg_stays
            shards.append(Shard(seed, day, platform.key, progress, reg_day[back], reg_index[back]))
            new = np.flatnonzero(registered(scenario, progress))
            retention_rng = np.random.default_rng(derive_seed(seed, day.isoformat(), platform.key, "retention"))
            reg_day = np.concatenate([reg_day, np.full(len(new), day.toordinal())])
            reg_index = np.concatenate([reg_index, new])
            reg_stays = np.concatenate([reg_stays, _days_retained(retention_rng, scenario.retention, len(new), days - offset)])
    shards.sort(key=lambda s: (s.day, s.platform))
    return shards


def _days_retained(rng: np.random.Generator, retention: float, users: int, most: int) -> np.ndarray:
    """Consecutive later days each registered user comes back: P(at least k) = retention ** k."""
    if retention >= 1.0:
        return np.full(users, most)
    return np.minimum(rng.geometric(1.0 - retention, users) - 1, most)
