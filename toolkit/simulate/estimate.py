"""What a run of `generate` would write, without writing it: the first day simulated into a
scratch folder (the same seed, so its figures are those of the real run's first day), scaled to
every day of the run."""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from datetime import date

from toolkit.segment.sinks import LocalSink
from toolkit.simulate.run import generate
from toolkit.simulate.scenario import Scenario


@dataclass(frozen=True)
class Estimate:
    """About how much a run writes: its first day measured, the others assumed alike."""

    days: int
    first_day_messages: int
    first_day_files: int
    first_day_bytes: int  # gzipped, as written

    @property
    def messages(self) -> int:
        return self.first_day_messages * self.days

    @property
    def files(self) -> int:
        return self.first_day_files * self.days

    @property
    def bytes(self) -> int:
        return self.first_day_bytes * self.days

    def as_dict(self) -> dict:
        return {**asdict(self), "messages": self.messages, "files": self.files, "bytes": self.bytes}


def estimate(
    scenario: Scenario, start: date, days: int, seed: int, *, workers: int | None = None
) -> Estimate:
    """Simulate `start` alone into a temporary folder, deleted after, and scale it to `days`."""
    with tempfile.TemporaryDirectory(prefix="toolkit-dry-run-") as scratch:
        first = generate(scenario, start, 1, seed, LocalSink(scratch), workers)
    return Estimate(days, first.messages, first.files, first.bytes_written)
