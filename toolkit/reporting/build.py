"""`toolkit report`: the figures of a logs folder (or s3:// prefix), an interactions CSV or a
workshop output folder, with Personalize's verdict on the interactions, as one HTML page."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from toolkit.aws.s3 import AwsOptions, is_s3
from toolkit.errors import UsageError
from toolkit.files import check_outputs, write_atomically
from toolkit.personalize.evaluate import Evaluation, evaluate_csv
from toolkit.personalize.validate import ValidationReport, validate_csv, with_datasets
from toolkit.reporting.figures import interaction_figures, load_interactions, load_messages, log_figures
from toolkit.reporting.page import render_page
from toolkit.reporting.profiles import dataset_profile
from toolkit.segment.logs import LogFiles, find_log_files
from toolkit.simulate.scenario import Scenario
from toolkit.simulate.scenario_toml import load_scenario
from toolkit.transforming.run import transform
from toolkit.transforming.summary import TransformSummary

MEMORY_LIMIT = "1GB"
PROFILED = {"users": "USER_ID", "items": "ITEM_ID"}  # the datasets profiled, by their id column


@dataclass
class Inputs:
    """What a report is made of: logs (to transform), or an interactions CSV, and the datasets beside it."""

    logs: str | None = None
    interactions: Path | None = None
    users: Path | None = None
    items: Path | None = None


@dataclass
class Report:
    source: str
    logs: dict | None = None
    accounting: TransformSummary | None = None
    interactions: dict | None = None
    validation: ValidationReport | None = None
    datasets: list[ValidationReport] = field(default_factory=list)
    profiles: dict[str, list[dict]] = field(default_factory=dict)  # Users, Items: a profile per column
    evaluation: Evaluation | None = None
    not_evaluated: str | None = None  # why there is no evaluation, when it was asked for

    @property
    def ready(self) -> bool:
        return self.validation is not None and self.validation.valid and all(d.valid for d in self.datasets)

    def findings(self) -> tuple[list[str], list[str]]:
        """(what to fix, what to look at): failed rules, then warnings, each one line."""
        reports = [r for r in [self.validation, *self.datasets] if r is not None]
        fix = [f"{r.dataset}: {c.rule}: {c.detail}" for r in reports for c in r.checks if c.status == "fail"]
        look = [f"{r.dataset}: {c.rule}: {c.detail}" for r in reports for c in r.checks if c.status == "warn"]
        if self.accounting is not None and self.accounting.rejected:
            look.append(
                f"logs: {self.accounting.rejected:,} lines are not JSON objects (transform --rejects FILE "
                "lists them)"
            )
        if self.evaluation is not None and not self.evaluation.learnable:
            look.append(f"signal: {self.evaluation.verdict}")
        if self.not_evaluated:
            look.append(f"signal: not evaluated: {self.not_evaluated}")
        return fix, look

    def as_dict(self) -> dict:
        fix, look = self.findings()
        return {
            "source": self.source,
            "ready_for_personalize": self.ready,
            "to_fix": fix,
            "to_look_at": look,
            "logs": self.logs,
            "accounting": self.accounting.as_dict() if self.accounting else None,
            "interactions": self.interactions,
            "validation": self.validation.as_dict() if self.validation else None,
            "datasets": [d.as_dict() for d in self.datasets],
            "profiles": self.profiles,
            "evaluation": self.evaluation.as_dict() if self.evaluation else None,
        }


def inputs_of(source: str, users: str | None = None, items: str | None = None) -> Inputs:
    """A workshop output folder (transformed/interactions.csv, users.csv, items.csv, segment-logs/),
    an interactions CSV, or logs."""
    found = Inputs(users=Path(users) if users else None, items=Path(items) if items else None)
    path = Path(source)
    if not is_s3(source) and path.is_dir() and (path / "transformed" / "interactions.csv").is_file():
        found.interactions = path / "transformed" / "interactions.csv"
        found.logs = str(path / "segment-logs") if (path / "segment-logs").is_dir() else None
        found.users = found.users or (path / "users.csv" if (path / "users.csv").is_file() else None)
        found.items = found.items or (path / "items.csv" if (path / "items.csv").is_file() else None)
    elif not is_s3(source) and path.is_file() and path.suffix.lower() == ".csv":
        found.interactions = path
    else:
        found.logs = source
    for parameter, given in (("users", found.users), ("items", found.items)):
        if given is not None and not given.is_file():
            raise UsageError(f"`{parameter}`: no such file: {given}", parameters=(parameter,))
    return found


def build_report(
    source: str,
    *,
    out: str | Path | None = None,
    users: str | None = None,
    items: str | None = None,
    scenario: str | Scenario = "workshop",
    evaluate: bool = True,
    layout: str | None = None,
    aws: AwsOptions | None = None,
) -> Report:
    """The figures of `source` (Segment logs: a folder or s3://bucket/prefix; an interactions
    CSV; or a workshop output folder), the transform's accounting (for logs), Personalize's
    validation (with `users` and `items` CSVs, across them too) and, if `evaluate`, the signal
    check; with `out`, the HTML page written there (checked before any work). `scenario` (a
    name, a file or a Scenario) gives the page its funnels and source names."""
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    out = Path(out) if out is not None else None
    inputs = inputs_of(source, users, items)
    read = [p for p in (inputs.interactions, inputs.users, inputs.items) if p]
    if out is not None:
        check_outputs({"out": out}, read)
    report = Report(source)
    logs = (
        find_log_files(inputs.logs, aws, stream=True, layout=layout)
        if inputs.logs
        else contextlib.nullcontext()
    )
    with logs as files, tempfile.TemporaryDirectory(prefix="toolkit-report-") as work:
        if out is not None and files is not None:
            check_outputs({"out": out}, [*read, *files.paths])
        if inputs.interactions is not None:
            csv = inputs.interactions
            report.validation = validate_csv(csv, dataset="interactions")
        else:  # logs (the source itself): the transform validates what it writes, the report's validation
            csv = Path(work) / "interactions.csv"
            transformed = transform(source, out=str(csv), aws=aws, layout=layout)
            report.accounting, report.validation = transformed.summary, transformed.validation
        report.validation.path = str(inputs.interactions or f"{source} (transformed)")
        report.datasets = with_datasets(report.validation, csv, inputs.users, inputs.items)
        if evaluate:
            report.evaluation, report.not_evaluated = _evaluate(csv)
        add_figures(report, scenario, files, csv)
    if out is not None:
        write_report(report, out)
    return report


def add_figures(report: Report, scenario: Scenario, logs: LogFiles | None, csv: Path | None) -> None:
    """The figures of the logs and of the interactions, computed by DuckDB in a temporary database
    (bounded memory, spilling to disk)."""
    with tempfile.TemporaryDirectory(prefix="toolkit-figures-") as work:
        connection = duckdb.connect()  # in memory up to MEMORY_LIMIT, then spilled to `work`
        try:
            connection.execute(
                f"SET memory_limit = '{MEMORY_LIMIT}'; SET temp_directory = '{work}'; "
                "SET enable_progress_bar = false; SET TimeZone = 'UTC'"
            )
            if logs is not None:
                if logs.filesystem is not None:  # S3 objects, read as needed
                    connection.register_filesystem(logs.filesystem)
                load_messages(connection, logs.paths)
                report.logs = log_figures(
                    connection, {s.id: s.name for s in scenario.sources.values()}, _funnels(scenario)
                )
                connection.execute("DROP TABLE messages")
            if csv is not None:
                load_interactions(connection, csv)
                report.interactions = interaction_figures(connection)
            for dataset in report.datasets:
                if dataset.dataset in PROFILED and Path(dataset.path).is_file():
                    report.profiles[dataset.dataset] = dataset_profile(
                        connection, Path(dataset.path), PROFILED[dataset.dataset]
                    )
        finally:
            connection.close()


def write_report(report: Report, out: Path) -> None:
    try:
        write_atomically(out, render_page(report.as_dict()).encode())
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None


def _evaluate(csv: Path) -> tuple[Evaluation | None, str | None]:
    """The evaluation, or why there can be none (no user with two interactions, say)."""
    try:
        return evaluate_csv(csv), None
    except UsageError as exc:
        return None, str(exc)


def _funnels(scenario: Scenario) -> dict[str, list[str]]:
    """The scenario's funnel journeys, by name, as lists of event names."""
    return {
        name: [step.event for step in journey.steps]
        for name, journey in scenario.journeys.items()
        if journey.mode == "funnel"
    }
