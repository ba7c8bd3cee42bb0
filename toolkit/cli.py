"""The `toolkit` command: a thin layer that parses options, calls the library and renders with rich."""

from __future__ import annotations

import functools
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from toolkit.errors import UsageError

app = typer.Typer(
    help="Segment clickstream to Amazon Personalize training data: generate, explore, transform, validate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


@app.callback()
def toolkit() -> None:
    """Segment clickstream to Amazon Personalize training data, offline on DuckDB or on AWS."""


def exits_cleanly(command):
    """Turn a UsageError into one line on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except UsageError as exc:
            errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01") from None


def resolve_days(start_text: str, days: int | None, until_text: str | None) -> tuple[date, int]:
    """The first day and the number of days of a run, from --date with --days or --until (default: yesterday)."""
    start = parse_day(start_text, "--date")
    if days is not None and until_text is not None:
        raise UsageError("give --days or --until, not both")
    if days is not None:
        if days < 1:
            raise UsageError(f"--days must be at least 1, not {days}")
        return start, days
    until = parse_day(until_text, "--until") if until_text else datetime.now(timezone.utc).date() - timedelta(days=1)
    if until < start:
        hint = "" if until_text else " (the default end is yesterday, UTC; give --days N for a future or current date)"
        raise UsageError(f"the end {until} is before the start {start}{hint}")
    return start, (until - start).days + 1


class LazyProgress:
    """A progress bar that appears only if the work takes more than a second."""

    def __init__(self, description: str):
        self.description = description
        self.began = time.monotonic()
        self.progress: Progress | None = None
        self.task = None

    def update(self, done: int, total: int) -> None:
        if self.progress is None and time.monotonic() - self.began > 1.0 and done < total:
            self.progress = Progress(TextColumn(self.description), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=total)
        if self.progress is not None:
            self.progress.update(self.task, completed=done)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


@app.command()
@exits_cleanly
def generate(
    start: Annotated[str, typer.Option("--date", help="First day to simulate, YYYY-MM-DD (UTC).")],
    days: Annotated[Optional[int], typer.Option(help="Number of days to simulate (instead of --until).")] = None,
    until: Annotated[Optional[str], typer.Option(help="Last day to simulate, YYYY-MM-DD. Default: yesterday (UTC).")] = None,
    scenario: Annotated[str, typer.Option(help="Scenario TOML file, or the name of a bundled one.")] = "workshop",
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and options give byte-identical files.")] = 1,
    users_per_day: Annotated[Optional[int], typer.Option(help="New visitors per platform per day (default: the scenario's).")] = None,
    out: Annotated[Path, typer.Option(help="Folder to write segment-logs/ into.")] = Path("out"),
    workers: Annotated[Optional[int], typer.Option(help="Processes to simulate with (default: one per core).")] = None,
) -> None:
    """Simulate users on the scenario's sources and write Segment's S3 destination layout."""
    from toolkit.segment.sinks import LocalSink
    from toolkit.simulate.run import generate as run_generate
    from toolkit.simulate.scenario import load_scenario

    first_day, day_count = resolve_days(start, days, until)
    chosen = load_scenario(scenario)
    if users_per_day is not None:
        if users_per_day < 1:
            raise UsageError(f"--users-per-day must be at least 1, not {users_per_day}")
        chosen = chosen.with_visitors(users_per_day)
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    sink = LocalSink(out)
    sink.check()
    progress = LazyProgress("simulating")
    try:
        result = run_generate(chosen, first_day, day_count, seed, sink, workers, progress.update)
    finally:
        progress.close()
    from toolkit.render import generate_summary

    console.print(generate_summary(chosen, result))
    last_day = first_day + timedelta(days=day_count - 1)
    console.print(
        f"{result.messages:,} messages in {result.files:,} files ({result.bytes_written / 1e6:,.1f} MB gzipped) "
        f"for {first_day} to {last_day} in {result.seconds:.1f} s ({result.messages / max(result.seconds, 1e-9):,.0f} messages/s)"
    )
    console.print(f"written to {sink.describe()}")


def main() -> None:
    app()
