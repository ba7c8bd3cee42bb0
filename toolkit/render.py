"""Rich tables for what the commands report."""

from __future__ import annotations

from rich.table import Table

from toolkit.simulate.run import GenerateResult
from toolkit.simulate.scenario import Scenario


def generate_summary(scenario: Scenario, result: GenerateResult) -> Table:
    """Messages per source and event (identify counted as its own row)."""
    table = Table(title="Messages written, by source and event")
    table.add_column("source")
    table.add_column("source id")
    table.add_column("event")
    table.add_column("messages", justify="right")
    for source in scenario.sources.values():
        events = sorted((event, count) for (key, event), count in result.counts.items() if key == source.key)
        for position, (event, count) in enumerate(events):
            first = position == 0
            table.add_row(source.name if first else "", source.id if first else "", event, f"{count:,}", end_section=position == len(events) - 1)
    table.add_row("total", "", "", f"{result.messages:,}")
    return table
