"""`toolkit generate`: simulate a scenario's users for some days and deliver their messages to
Segment destinations (Segment's S3 layout in a folder or a bucket, and the others of
toolkit.destinations)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from toolkit.aws.s3 import AwsOptions
from toolkit.destinations import DestinationOptions, open_destinations
from toolkit.errors import UsageError
from toolkit.segment.layout import HOURLY, check_cadence
from toolkit.simulate.run import SimulationResult
from toolkit.simulate.run import generate as simulate
from toolkit.simulate.scenario import Scenario
from toolkit.simulate.scenario_toml import load_scenario

MAX_DAYS = 3_650  # ten years of simulated days
MAX_VISITORS = 1_000_000  # new visitors per platform per day (about 10M messages a day)


@dataclass
class GenerateResult:
    """What was simulated, for which days, and where it was written."""

    scenario: Scenario  # as simulated (with `users_per_day` applied)
    seed: int
    first_day: date
    last_day: date
    written_to: list[str]  # the destinations, as named to a user
    simulation: SimulationResult  # messages by source and event, files, bytes, seconds, deliveries

    @property
    def messages(self) -> int:
        return self.simulation.messages

    def as_dict(self) -> dict:
        """What `toolkit generate --json` prints."""
        return {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "written_to": self.written_to,
            **self.simulation.as_dict(),
        }


def generate(
    scenario: str | Scenario = "workshop",
    *,
    start: date | str,
    days: int | None = None,
    until: date | str | None = None,
    seed: int = 1,
    users_per_day: int | None = None,
    out: str | Sequence[str] = "out",
    workers: int | None = None,
    aws: AwsOptions | None = None,
    destination_options: DestinationOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    cadence: str = HOURLY,
) -> GenerateResult:
    """Simulate `scenario` (a TOML file, a bundled scenario's name, or a Scenario) from `start`
    for `days` days (or up to `until`; default: yesterday, UTC) and deliver the messages to `out`:
    a destination or several (a folder or s3://bucket/prefix gets Segment's S3 layout, segment-logs/
    under it; see toolkit.destinations for the others), each delivering as `destination_options`
    says (a layout, Kinesis' partition key, Firehose's buffering, ...; `aws`, if given, replaces
    its AWS options). Segment's S3 files are cut at `cadence`: hourly (a file per source and hour)
    or continuous (small files every few minutes, as the S3 destination writes them today). The
    same seed and options give byte-identical files."""
    first_day, day_count = plan_days(start, days=days, until=until)
    chosen = choose_scenario(scenario, users_per_day=users_per_day)
    if workers is not None and workers < 1:
        raise UsageError(f"`workers` must be at least 1, not {workers}", parameters=("workers",))
    check_cadence(cadence)
    options = replace(
        destination_options or DestinationOptions(),
        source_names={source.id: source.key for source in chosen.sources.values()},
        source_slugs={source.id: source.name for source in chosen.sources.values()},
    )
    if aws is not None:
        options = replace(options, aws=aws)
    destinations = open_destinations([out] if isinstance(out, str) else list(out), options)
    simulation = simulate(
        chosen, first_day, day_count, seed, destinations, workers, on_progress, cadence=cadence
    )
    last_day = first_day + timedelta(days=day_count - 1)
    return GenerateResult(chosen, seed, first_day, last_day, [d.name for d in destinations], simulation)


def plan_days(
    start: date | str, *, days: int | None = None, until: date | str | None = None
) -> tuple[date, int]:
    """The first day and the number of days of a run: `start` with `days` or `until` (default:
    yesterday, UTC)."""
    first = _day(start, "start")
    if days is not None and until is not None:
        raise UsageError("give `days` or `until`, not both", parameters=("days", "until"))
    if days is not None:
        if not 1 <= days <= MAX_DAYS:
            raise UsageError(f"`days` must be 1 to {MAX_DAYS:,}, not {days}", parameters=("days",))
        return first, days
    last = _day(until, "until") if until else datetime.now(UTC).date() - timedelta(days=1)
    if (last - first).days >= MAX_DAYS:
        raise UsageError(
            f"`start` to `until` spans more than {MAX_DAYS:,} days", parameters=("start", "until")
        )
    if last < first:
        hint = (
            ""
            if until
            else " (the default end is yesterday, UTC; give `days` N for a future or current date)"
        )
        raise UsageError(f"the end {last} is before the start {first}{hint}", parameters=("days",))
    return first, (last - first).days + 1


def choose_scenario(scenario: str | Scenario, *, users_per_day: int | None = None) -> Scenario:
    """The scenario to simulate (a file, a bundled name, or a Scenario), with `users_per_day` new
    visitors per platform per day if given."""
    chosen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if users_per_day is None:
        return chosen
    if not 1 <= users_per_day <= MAX_VISITORS:
        raise UsageError(
            f"`users_per_day` must be 1 to {MAX_VISITORS:,}, not {users_per_day}",
            parameters=("users_per_day",),
        )
    return chosen.with_visitors(users_per_day)


def _day(value: date | str, parameter: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"`{parameter}` {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01", parameters=(parameter,)
        ) from None
