"""What the commands show: rich tables and lines on the terminal, progress bars, JSON documents.

The library's types are imported for annotations only, so that `toolkit --help` stays quick."""

from __future__ import annotations

import os
import shlex
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import orjson
from rich.console import Console, Group
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

    from toolkit.exploring.engines import QueryResult
    from toolkit.exploring.run import ExploreResult
    from toolkit.generating import GenerateResult
    from toolkit.importing import ImportResult
    from toolkit.personalize.evaluate import Evaluation
    from toolkit.personalize.validate import ValidationReport
    from toolkit.reporting.build import Report
    from toolkit.segment.destination import DeliveryCounts
    from toolkit.simulate.estimate import Estimate
    from toolkit.simulate.run import SimulationResult
    from toolkit.simulate.scenario import Scenario
    from toolkit.transforming.run import TransformResult
    from toolkit.transforming.summary import TransformSummary
    from toolkit.workshop import WorkshopRun

# User text (paths, file names, SQL results, messages) is never read as rich markup: styles
# are given as Text spans only.
console = Console(markup=False, highlight=False)
errors = Console(stderr=True, markup=False, highlight=False)

Result = TypeVar("Result")


class _PipeSafe:
    """sys.stdout that, once its reader has gone (`| head -1`), sends the rest to /dev/null
    instead of raising: the command runs to its end and exits with its own code."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._gone()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._gone()

    def _gone(self) -> None:
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def keep_exit_codes_under_pipes() -> None:
    """Make a closed pipe on stdout harmless (rich would exit 1 on it, whatever the result)."""
    try:
        sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test runner's capture)
        return
    if not isinstance(sys.stdout, _PipeSafe):
        sys.stdout = _PipeSafe(sys.stdout)


def say_error(message: str) -> None:
    """One line on stderr; the message is shown as it is, never read as rich markup."""
    errors.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)


def print_json(document: object) -> None:
    import json

    print(json.dumps(document, indent=2, default=str))


def with_progress(
    description: str, work: Callable[[Callable[[int, int], None] | None], Result], show: bool = True
) -> Result:
    """Run work(on_progress) with a bar on stderr that appears if it takes over a second (if shown)."""
    if not show:
        return work(None)
    progress = LazyProgress(description)
    try:
        return work(progress.update)
    finally:
        progress.close()


BAR_DELAY_SECONDS = 1.0  # work shorter than this shows no bar


class LazyProgress:
    """A labelled bar on stderr that appears once the work has run a second, when stderr is a
    terminal (never in a pipe, a file or a log); work with no count yet shows a pulsing bar."""

    def __init__(self, description: str):
        self.description = description
        self.done: int = 0
        self.total: int | None = None
        self.lock = threading.Lock()
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.closed = False
        self.timer = threading.Timer(BAR_DELAY_SECONDS, self._appear) if errors.is_terminal else None
        if self.timer is not None:
            self.timer.daemon = True
            self.timer.start()

    def _appear(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.progress = Progress(
                TextColumn(self.description),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=errors,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=self.total, completed=self.done)

    def update(self, done: int, total: int) -> None:
        with self.lock:
            self.done, self.total = done, total
            if self.progress is not None and self.task is not None:
                self.progress.update(self.task, completed=done, total=total)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self.timer is not None:
                self.timer.cancel()
            if self.progress is not None:
                self.progress.stop()
                self.progress = None


class StepLines:
    """The `Steps` of a run drawn as people expect them: a bar on stderr for work that runs over a
    second, and (with `lines`) one line on stdout as each step ends, numbered and timed as dbt
    prints its models: `20:31:05  1 of 7  generate  675,000 messages ......... [5.1 s]`."""

    def __init__(self, steps: int = 0, *, lines: bool = True):
        self.steps, self.lines = steps, lines
        self.ended = 0
        self.began = time.monotonic()
        self.bar: LazyProgress | None = None

    def begin(self, doing: str) -> None:
        self.close()
        self.bar = LazyProgress(doing)

    def advance(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(done, total)

    def end(self, step: str, outcome: str) -> None:
        self.close()
        self.ended += 1
        now = time.monotonic()
        seconds, self.began = now - self.began, now
        if self.lines:
            line = step_line(self.ended, self.steps, step, outcome, seconds, console.width)
            if line.cell_len > console.width:  # a long path: wrapped by words, the path kept whole
                print_wrapped(line.plain, indent=STEP_INDENT)
            else:
                console.print(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


STEP_INDENT = 10  # a wrapped step line goes on under its number


def step_line(number: int, steps: int, step: str, outcome: str, seconds: float, width: int) -> Text:
    """One finished step: the clock, its number, its name, what it made, dots to the time on the right."""
    left = f"{time.strftime('%H:%M:%S')}  {number} of {steps}  {step:<9} {outcome} "
    right = f" [{seconds:.1f} s]"
    dots = "." * max(width - len(left) - len(right), 0)
    return Text.assemble(left, (dots, "dim"), (right, "green"))


def generate_summary(scenario: Scenario, result: SimulationResult) -> Table:
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
            table.add_row(
                source.name if first else "",
                source.id if first else "",
                event,
                f"{count:,}",
                end_section=position == len(events) - 1,
            )
    if result.duplicates:
        table.add_row("", "", "delivered twice (same messageId)", f"{result.duplicates:,}")
    table.add_row("total", "", "", f"{result.messages:,}")
    return table


def transform_summary(summary: TransformSummary) -> Table:
    """Where every message read went: read = written + filtered + duplicates + rejected."""
    from toolkit.transforming.summary import FILTER_REASONS

    table = Table(title="Messages read, and where each one went")
    table.add_column("messages")
    table.add_column("count", justify="right")
    table.add_column("why")
    skipped = [f"{summary.empty_files} empty"] if summary.empty_files else []
    skipped += (
        [
            f"{len(summary.refused_objects)} S3 objects refused: their keys would be saved outside the "
            "download folder"
        ]
        if summary.refused_objects
        else []
    )
    table.add_row(
        "read",
        f"{summary.messages_read:,}",
        f"from {summary.files:,} files" + (f" ({'; '.join(skipped)} skipped)" if skipped else ""),
        end_section=True,
    )
    table.add_row(
        "written",
        f"{summary.messages_written:,}",
        f"{summary.interactions:,} interactions (a products[] array gives one per product)",
    )
    for reason, text in FILTER_REASONS.items():
        if summary.filtered.get(reason):
            table.add_row(f"filtered: {reason}", f"{summary.filtered[reason]:,}", text)
    table.add_row("duplicates", f"{summary.duplicates:,}", "same messageId as a message kept")
    table.add_row(
        "rejected",
        f"{summary.rejected:,}",
        "lines that are not JSON objects (bad JSON, not UTF-8, truncated)",
    )
    return table


def events_table(summary: TransformSummary) -> Table:
    table = Table(title="Interactions by EVENT_TYPE")
    table.add_column("EVENT_TYPE")
    table.add_column("interactions", justify="right")
    for event, count in summary.events.most_common():
        table.add_row(event, f"{count:,}")
    return table


_STATUS = {"pass": Text("pass", "green"), "fail": Text("FAIL", "bold red"), "warn": Text("warn", "yellow")}


_ORDER = {"fail": 0, "warn": 1, "pass": 2}


def validation_table(report: ValidationReport, *, every: bool = False) -> Table:
    """The rules that failed, then those that warn (with `every`, the passing ones too)."""
    table = Table(title=f"Personalize {report.dataset} rules: {report.path}")
    table.add_column("rule")
    table.add_column("result")
    table.add_column("found")
    for check in sorted(report.checks, key=lambda c: _ORDER.get(c.status, 3)):
        if every or check.status != "pass":
            detail = check.detail + "".join(f"\n  {example}" for example in check.examples)
            table.add_row(check.rule, _STATUS[check.status], detail)
    return table


def rule_counts(report: ValidationReport) -> str:
    """`18 rules pass, 2 warn, 1 fails`."""
    counts = {status: sum(c.status == status for c in report.checks) for status in _ORDER}
    parts = [plural(counts["pass"], "rule") + " pass"]
    parts += [f"{counts['warn']:,} warn"] if counts["warn"] else []
    parts += [f"{counts['fail']:,} fail{'s' if counts['fail'] == 1 else ''}"] if counts["fail"] else []
    return ", ".join(parts)


def diagnostics_table(diagnostics: dict) -> Table:
    table = Table(title="Diagnostics")
    table.add_column("measure")
    table.add_column("value")
    for name, value in diagnostics.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, int):
            value = f"{value:,}"
        table.add_row(name.replace("_", " "), str(value))
    return table


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return orjson.dumps(value, default=str).decode()
    return str(value)


MAX_CELL = 40  # characters of a value shown in a table; the rest is cut with an ellipsis
NULL = Text("NULL", "dim")


def _shown(value) -> Text:
    """A value as DuckDB's CLI shows it: NULL for a missing value, numbers grouped by thousands."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return Text(str(value).lower())
    if isinstance(value, int):
        return Text(f"{value:,}")
    if isinstance(value, float):
        return Text(f"{value:,.6g}" if abs(value) < 1e15 else f"{value:.6g}")
    return Text(_short(_cell(value)))


def _is_number(value) -> bool:
    import decimal

    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def plural(count: int, noun: str) -> str:
    """`1 row`, `2 rows`, `1,234 rows`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def query_table(title: str, result: QueryResult, width: int = 80) -> Group:
    """The rows as a table that fits `width` columns of terminal, as DuckDB's CLI shows them:
    numbers right-aligned and grouped, NULL shown, values cut at MAX_CELL characters, the columns
    that do not fit left out and named, and the rows beyond those shown counted."""
    cells = [[_shown(v) for v in row] for row in result.rows]
    columns = result.columns or ["(no columns)"]
    shown: list[int] = []
    used = 1
    for index, column in enumerate(columns):
        need = max([len(column)] + [row[index].cell_len for row in cells if index < len(row)]) + 3
        if shown and used + min(need, MAX_CELL + 3) > width:
            break
        shown.append(index)
        used += min(need, MAX_CELL + 3)
    hidden = len(columns) - len(shown)
    total = len(result.rows) + result.hidden_rows
    caption = plural(total, "row")
    if result.hidden_rows:
        caption += f" ({len(result.rows):,} shown; --limit 0 shows all)"
    caption += f" in {result.seconds:.2f} s"
    if hidden:
        names = ", ".join(columns[i] for i in range(len(columns)) if i not in shown)
        caption += (
            f"; {hidden} of {len(columns)} columns not shown ({names}): select them with --sql, or use --json"
        )
    table = Table(title=title)
    for index in shown:
        numeric = bool(result.rows) and all(
            _is_number(row[index]) or row[index] is None for row in result.rows if index < len(row)
        )
        table.add_column(
            columns[index],
            overflow="ellipsis",
            no_wrap=True,
            max_width=MAX_CELL,
            justify="right" if numeric else "left",
        )
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    return Group(table, Text(caption))


def shape_table(title: str, result: QueryResult) -> Table:
    """A sample's shape at any width: a row per column, with how many of the sample's rows have a
    value in it and the first value found (DuckDB's `.mode line` turned into one table)."""
    table = Table(
        title=f"{title}: one row per column", caption=plural(len(result.rows), "message") + " sampled"
    )
    table.add_column("column", no_wrap=True)
    table.add_column("present", justify="right", no_wrap=True)
    table.add_column("first value", overflow="ellipsis", no_wrap=True)
    for index, column in enumerate(result.columns):
        values = [row[index] for row in result.rows if index < len(row) and row[index] is not None]
        table.add_row(column, f"{len(values)}/{len(result.rows)}", _shown(values[0]) if values else NULL)
    return table


def _short(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def query_csv(result: QueryResult) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([_cell(v) for v in row] for row in result.rows)
    return buffer.getvalue()


def send_summary(scenario: Scenario, result) -> Table:
    table = Table(title=f"Sent with segment-analytics-python in {result.seconds:.1f} s")
    table.add_column("source")
    table.add_column("sent", justify="right")
    table.add_column("failed", justify="right")
    for key, source in scenario.sources.items():
        if key in result.sent or key in result.failed:
            table.add_row(source.name, f"{result.sent[key]:,}", f"{result.failed[key]:,}")
    return table


def check_table(result) -> Table:
    """One row per requirement; the fixes, which one copies, go below the table whole (print_fixes)."""
    table = Table(
        title=f"Workshop readiness: {result.account}"
        + (f" ({result.account_id})" if result.account_id else "")
    )
    table.add_column("requirement")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for line in result.lines:
        table.add_row(line.name, _STATUS[line.status], line.detail)
    return table


def account_summary_table(results) -> Table:
    table = Table(title="Workshop accounts, failing first")
    table.add_column("account")
    table.add_column("id")
    table.add_column("result")
    table.add_column("failing")
    for result in results:
        failing = [line.name for line in result.lines if line.status == "fail"]
        table.add_row(
            result.account,
            result.account_id,
            _STATUS["pass" if result.passed else "fail"],
            ", ".join(failing),
        )
    return table


def print_check(results, *, batch: bool) -> None:
    """The table (one account's requirements, or every account's summary), then each fix in
    full below it, then what --fix created (or, on a dry run, would create)."""
    console.print(account_summary_table(results) if batch else check_table(results[0]))
    for result in results:
        where = f"{result.account}: " if batch else ""
        for line in result.lines:
            if line.status != "pass" and line.fix:
                print_wrapped(f"fix {where}{line.name}: {line.fix}", indent=4)
        for created in result.created:
            print_wrapped(f"created {created} in {result.account}")
        for planned in result.would_create:
            print_wrapped(f"would create {planned} in {result.account} (a dry run: nothing was created)")


def evaluation_table(result) -> Table:
    table = Table(
        title=f"Held-out last interaction of {result.users:,} users, {result.items:,} items, top {result.k}"
    )
    for column in ("recommender", "hit rate", "NDCG", "catalog coverage"):
        table.add_column(column, justify="left" if column == "recommender" else "right")
    for name, scores in (
        ("most popular", result.popularity),
        ("item-to-item co-occurrence", result.cooccurrence),
    ):
        table.add_row(name, f"{scores.hit_rate:.3f}", f"{scores.ndcg:.3f}", f"{scores.coverage:.1%}")
    return table


def import_plan_table(result: ImportResult) -> Table:
    """The import's steps: what it found to reuse, and what it makes (or, in a dry run, would)."""
    table = Table(
        title=f"Import into dataset group {result.dataset_group}" + (" (dry run)" if result.dry_run else "")
    )
    table.add_column("stage")
    table.add_column("action")
    table.add_column("what")
    for step in result.steps:
        table.add_row(
            step.stage,
            step.action if not result.dry_run or step.action == "reuse" else f"would {step.action}",
            step.what,
        )
    return table


def import_status_lines(result: ImportResult) -> list[Text]:
    """What became of the import, a line each: invalid CSVs, the dry run's commands, each job's end."""
    lines = [
        Text.assemble(("not imported: ", "bold red"), f"{report.path} breaks Personalize's rules (above)")
        for report in result.validation
        if not report.valid
    ]
    if result.dry_run and result.valid:
        lines.append(Text("dry run: nothing was created. The same steps as aws commands:", "bold"))
        lines += [Text(step.command) for step in result.steps if step.command]
    for status in result.statuses:
        minutes = f" after {status.seconds / 60:.0f} min" if status.seconds >= 60 else ""
        if status.status == "ACTIVE":
            lines.append(Text.assemble(("ACTIVE", "green"), f" {status.what}{minutes}"))
        else:
            lines.append(
                Text.assemble(
                    (status.status or "unknown", "bold red"),
                    f" {status.what}{minutes}: {status.failure_reason or 'no reason given'}",
                )
            )
    for status in result.waited_out:
        lines.append(
            Text.assemble(
                (f"still {status.status or 'pending'}", "bold yellow"),
                f" after the {result.wait_seconds / 60:.0f} min wait: {status.what}; it goes on in "
                "Personalize "
                f"(aws personalize describe-{_described(status.arn)} --{_described(status.arn)}-arn "
                f"{status.arn})",
            )
        )
    if result.ok and not result.dry_run:
        lines.append(
            Text.assemble(
                ("imported", "green"),
                f" into dataset group {result.dataset_group}: next, train a solution on it (the "
                "workshop's Exercise 2)",
            )
        )
    return lines


def _described(arn: str) -> str:
    """The kind of Personalize resource an ARN names (dataset-import-job, dataset, dataset-group)."""
    return arn.split(":", 5)[-1].split("/", 1)[0]


def print_generated(result: GenerateResult) -> None:
    """The messages by source and event, the totals and the speed, and where they went."""
    counts = result.simulation
    console.print(generate_summary(result.scenario, counts))
    console.print(
        f"{counts.messages:,} messages in {counts.files:,} files ({counts.bytes_written / 1e6:,.1f} MB "
        f"gzipped) for {result.first_day} to {result.last_day} in {counts.seconds:.1f} s "
        f"({counts.messages / max(counts.seconds, 1e-9):,.0f} messages/s)"
    )
    for name in result.written_to:
        delivered = result.simulation.delivered.get(name)
        console.print(f"delivered to {name}" + (f": {delivery_text(delivered)}" if delivered else ""))


def print_transform(
    result: TransformResult, rejects: bool, datasets: list[str], wanted: tuple[str, ...] = ()
) -> None:
    """The accounting, the events, the datasets written, what was damaged or rejected, the verdict;
    for a CSV written to S3, the import into Personalize as the next step. An event of `wanted`
    that matched nothing is named, with the event present it was probably meant to be."""
    import difflib

    summary, where, report = result.summary, result.written_to, result.validation
    console.print(transform_summary(summary))
    console.print(events_table(summary))
    for event in wanted:
        if event not in summary.events:
            close = difflib.get_close_matches(event, list(summary.other_events), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            print_wrapped(f"warning: --event-types {event!r} matched no message{hint}", style="yellow")
    if not summary.interactions and summary.other_events:
        found = ", ".join(f"{event!r} ({count:,})" for event, count in summary.other_events.most_common())
        console.print(
            Text.assemble(
                ("none of --event-types was found", "bold red"), f"; the track events present are {found}"
            ),
            soft_wrap=True,
        )
    if summary.users_dataset is not None:
        fields = ", ".join(
            f"{f.trait!r} as {f.name}{'' if f.categorical else ' (numerical)'}"
            for f in summary.users_dataset.fields
        )
        users = summary.users_dataset
        personal = set(users.personal)
        others = [trait for trait in users.left_out if trait not in personal]
        console.print(
            f"Users dataset: {users.users:,} users with {fields}; left out: {', '.join(others) or 'none'}"
            + (f"; left out as personal data: {', '.join(users.personal)}" if users.personal else ""),
            soft_wrap=True,
        )
    if summary.items_dataset is not None:
        described = (
            f" ({summary.items_dataset.from_catalog:,} in the catalog)"
            if summary.items_dataset.from_catalog
            else ""
        )
        console.print(
            f"Items dataset: {summary.items_dataset.items:,} items{described} with "
            f"{', '.join(summary.items_dataset.fields)}",
            soft_wrap=True,
        )
    for file, damage in summary.damaged_files.items():
        console.print(
            Text.assemble(("damaged file ", "yellow"), f"{file}: {damage}; its complete lines were read")
        )
    if summary.rejected and not rejects:
        console.print(
            Text.assemble(
                (f"{summary.rejected:,} rejected lines", "yellow"),
                "; pass --rejects FILE to keep them with file and line numbers",
            )
        )
    status = ("passes", "green") if report.valid else ("FAILS", "bold red")
    console.print(
        Text.assemble(
            f"{summary.interactions:,} interactions written to {where} in {summary.seconds:.1f} s; it ",
            status,
            " Personalize's rules (toolkit validate for details)",
        )
    )
    if not report.valid:
        console.print(validation_table(report))
    elif where.startswith("s3://"):
        print_wrapped(f"next step: {import_command(where, datasets, 'segment-personalize')}")


def print_estimate(found: Estimate, first_day: date, last_day: date, outs: list[str]) -> None:
    """What a dry run of generate found: about how much, for which days, to where."""
    per_day = (
        f"{found.first_day_messages:,} messages in {found.first_day_files:,} files "
        f"({found.first_day_bytes / 1e6:,.1f} MB gzipped)"
    )
    print_wrapped(
        f"would write about {found.messages:,} messages in {found.files:,} files "
        f"({found.bytes / 1e6:,.1f} MB gzipped) for {first_day} to {last_day} "
        f"({plural(found.days, 'day')}) to {', '.join(outs)}: {first_day} simulated gives {per_day}, "
        "the other days taken as alike"
    )
    print_wrapped("a dry run: nothing was written")


def print_validation(reports: list[ValidationReport], *, every: bool = False) -> None:
    """Per dataset the failed rules and warnings (with `every`, every rule and the diagnostics),
    a line of counts; then one verdict over every dataset checked."""
    for report in reports:
        shown = [c for c in report.checks if every or c.status != "pass"]
        if shown:
            console.print(validation_table(report, every=every))
        if every:
            console.print(diagnostics_table(report.diagnostics))
        print_wrapped(f"{report.dataset} {report.path}, {plural(report.rows, 'row')}: {rule_counts(report)}")
    console.print(validation_verdict(reports))


def validation_verdict(reports: list[ValidationReport]) -> Text:
    """One closing line over every dataset checked."""
    failing = [r for r in reports if not r.valid]
    warnings = sum(c.status == "warn" for r in reports for c in r.checks)
    looked = f" ({plural(warnings, 'warning')} to look at)" if warnings else ""
    names = ", ".join(r.dataset for r in reports)
    if not failing:
        return Text.assemble(
            ("valid", "green"), f": {plural(len(reports), 'dataset')} checked ({names}){looked}"
        )
    which = ", ".join(
        f"{r.dataset} ({plural(sum(c.status == 'fail' for c in r.checks), 'rule')} failed)" for r in failing
    )
    return Text.assemble(
        ("invalid", "bold red"), f": {which}, of {plural(len(reports), 'dataset')} checked{looked}"
    )


def print_explore(result: ExploreResult, output_format: str) -> None:
    """The answers as tables, CSV or JSON on stdout; what was refused, read or skipped on stderr."""
    from toolkit.exploring.engines import workshop_conclusion

    if output_format == "json":
        print(orjson.dumps(result.as_dict(), default=str, option=orjson.OPT_INDENT_2).decode())
    for title, answer in result.queries if output_format != "json" else []:
        if output_format == "table":
            sample = result.workshop and answer is result.queries[0][1]
            console.print(shape_table(title, answer) if sample else query_table(title, answer, console.width))
            if answer.details:
                console.print(", ".join(f"{k}: {v}" for k, v in answer.details.items()), soft_wrap=True)
        else:
            print(query_csv(answer), end="")
    for name in result.refused:
        errors.print(
            Text.assemble(
                ("refused S3 object ", "yellow"),
                f"{name}: its key would be saved outside the download folder",
            )
        )
    if result.s3 is not None and output_format == "table":
        s3 = result.s3
        errors.print(
            f"read {s3.bytes_read / 1e6:,.1f} MB from {s3.objects_read:,} of {s3.objects:,} S3 objects "
            f"({s3.bytes_listed / 1e6:,.1f} MB), as the queries needed them"
        )
    for name, why in result.skipped.items():
        errors.print(Text.assemble(("skipped unreadable file ", "yellow"), f"{name}: {why}"))
    if result.workshop and output_format == "table":
        print_wrapped(workshop_conclusion(result.queries[-1][1]))
    if result.loaded is not None:
        loaded = result.loaded
        errors.print(
            f"loaded {plural(loaded.messages, 'message')} from {plural(loaded.files, 'log file')} into "
            f"{loaded.database}; next: duckdb {loaded.database} (or toolkit explore --db {loaded.database} "
            "--sql ...)",
            highlight=False,
        )


def print_workshop(scenario: Scenario, run: WorkshopRun) -> None:
    """After the step lines: what the logs hold, where every message went, what to look at, and
    where everything was written (each value wrapped by words beside its label)."""
    from toolkit.exploring.engines import workshop_conclusion

    console.print()
    print_wrapped(workshop_conclusion(run.queries[-1][1]))
    console.print(transform_summary(run.transformed))
    for report in [run.validation, *run.datasets]:
        if not report.valid:
            console.print(validation_table(report))
    for report in [run.validation, *run.datasets]:
        for check in report.checks:
            if check.status == "warn":
                print_wrapped(f"warning: {report.dataset}: {check.rule}: {check.detail}", style="yellow")
    console.rule("ready for Personalize" if run.validation.valid else "not ready for Personalize")
    verdict = "passes" if run.validation.valid else "FAILS"
    rows = [
        (
            "interactions CSV",
            f"{run.csv} ({run.transformed.interactions:,} interactions, "
            f"{run.validation.diagnostics.get('users', 0):,} users, "
            f"{run.validation.diagnostics.get('items', 0):,} items; {verdict} Personalize's rules)",
        ),
        ("schema", run.schema),
    ]
    if run.transformed.users_dataset is not None:
        rows.append(
            (
                "users dataset",
                f"{run.users} ({run.transformed.users_dataset.users:,} users; its schema beside it)",
            )
        )
    if run.items and run.transformed.items_dataset is not None:
        rows.append(
            (
                "items dataset",
                f"{run.items} ({run.transformed.items_dataset.items:,} items from the catalog export "
                "and the events; its schema beside it)",
            )
        )
    rows.append(("signal check", run.evaluation.verdict))
    rows.append(("raw logs", f"{run.logs} ({run.generated.messages:,} messages)"))
    rows.append(("report", f"{run.report} (open it in a browser: the charts of it all)"))
    if run.csv.startswith("s3://") and run.validation.valid:
        datasets = [path for path in (run.users, run.items) if path]
        rows.append(("next step", import_command(run.csv, datasets, scenario.name)))
    print_labelled(rows)


def import_command(interactions: str, datasets: list[str], dataset_group: str) -> str:
    """The `toolkit import` that takes an interactions CSV in S3 and the local Users and Items
    CSVs beside it into Personalize (uploaded to the CSV's bucket)."""
    words = ["toolkit", "import", interactions, *datasets, "--dataset-group", dataset_group]
    if datasets:
        words += ["--bucket", interactions[5:].split("/", 1)[0]]
    return shlex.join([*words, "--create-role"]) + "  (add --dry-run to see the plan first)"


def print_labelled(rows: list[tuple[str, str]]) -> None:
    """Label: value lines, each value wrapped by words beside its label (see `print_wrapped`)."""
    pad = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        print_wrapped(f"{label + ':':<{pad}}{value}", indent=pad)


def print_wrapped(text: str, *, indent: int = 0, style: str | None = None) -> None:
    """A line wrapped by words at the terminal's width, never inside a word: a path, a number or
    a command longer than the line is printed whole (the terminal folds it; a copy keeps it)."""
    lines = textwrap.wrap(
        text,
        console.width,
        subsequent_indent=" " * indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    console.print(Text("\n".join(lines) or text, style or ""), soft_wrap=True)


def print_report_verdict(report: Report, out: Path) -> None:
    """Where the page went, and whether the data is ready for Personalize."""
    fix, look = report.findings()
    verdict = (
        Text("ready for Personalize", "green")
        if report.ready
        else Text(f"not ready for Personalize: {len(fix)} to fix", "bold red")
    )
    console.print(
        Text.assemble(f"report written to {out}: ", verdict, f" ({len(look)} to look at)"), soft_wrap=True
    )


def print_evaluation(result: Evaluation) -> None:
    console.print(evaluation_table(result))
    console.print(Text(result.verdict, "green" if result.learnable else "bold yellow"), soft_wrap=True)


def delivery_text(counts: DeliveryCounts) -> str:
    """What a message destination did, in a line: delivered, not sent (why), retries, requests."""
    not_sent = ", ".join(f"{n:,} {why}" for why, n in sorted(counts.not_sent.items()))
    return (
        f"{counts.delivered:,} messages delivered"
        + (f", not sent: {not_sent}" if not_sent else "")
        + f" in {counts.requests:,} requests ({counts.retries:,} retried)"
    )
