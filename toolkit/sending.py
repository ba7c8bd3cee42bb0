"""`toolkit generate --sink segment`: simulate into a temporary folder, then send every message to
Segment's tracking API (or a collector), one client per source, with each source's write key."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

from toolkit.segment.send import SendResult, SourceToSend, checked_host, send_logs
from toolkit.segment.sinks import LocalSink
from toolkit.segment.write_keys import require_keys, resolve_write_keys
from toolkit.simulate.run import SimulationResult, generate
from toolkit.simulate.scenario import Scenario


def simulate_and_send(
    scenario: Scenario,
    *,
    first_day: date,
    days: int,
    seed: int,
    workers: int | None = None,
    write_keys: list[str] | None = None,
    keys_file: str | None = None,
    host: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_simulated: Callable[[SimulationResult], None] | None = None,
) -> tuple[SimulationResult, SendResult]:
    """Simulate, then send with each source's write key (`write_keys` SOURCE=KEY pairs, the
    environment, or `keys_file`) to `host` (default: Segment's API). The keys are checked before
    any work; `on_simulated(result)` is told when sending starts."""
    keys = resolve_write_keys(list(scenario.sources), write_keys, keys_file)
    require_keys(keys, scenario.used_sources)
    host = checked_host(host)
    with tempfile.TemporaryDirectory(prefix="toolkit-send-") as folder:
        generated = generate(scenario, first_day, days, seed, LocalSink(folder), workers, on_progress)
        if on_simulated:
            on_simulated(generated)
        sources = {source.id: SourceToSend(key, source.library) for key, source in scenario.sources.items()}
        return generated, send_logs(Path(folder), sources, keys, host)
