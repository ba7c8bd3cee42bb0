"""Rich tables for what the commands report."""

from __future__ import annotations

import orjson
from rich.table import Table
from rich.text import Text

from toolkit.explore.engines import QueryResult
from toolkit.personalize.validate import ValidationReport
from toolkit.simulate.run import GenerateResult
from toolkit.simulate.scenario import Scenario
from toolkit.transform.summary import FILTER_REASONS, TransformSummary


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
    table = Table(title="Messages read, and where each one went")
    table.add_column("messages")
    table.add_column("count", justify="right")
    table.add_column("why")
    skipped = [f"{summary.empty_files} empty"] if summary.empty_files else []
    skipped += (
        [
            f"{len(summary.refused_objects)} S3 objects refused: their keys would be saved outside the download folder"
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


def validation_table(report: ValidationReport) -> Table:
    table = Table(title=f"Personalize {report.dataset} rules: {report.path}")
    table.add_column("rule")
    table.add_column("result")
    table.add_column("detail")
    for check in report.checks:
        detail = check.detail + "".join(f"\n  {example}" for example in check.examples)
        table.add_row(check.rule, _STATUS[check.status], detail)
    return table


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


def query_table(title: str, result: QueryResult, width: int = 80) -> Table:
    """The rows as a table that fits `width` columns of terminal, as DuckDB's CLI shows them:
    values cut at MAX_CELL characters, and the columns that do not fit left out and named."""
    cells = [[_short(_cell(v)) for v in row] for row in result.rows]
    columns = result.columns or ["(no columns)"]
    shown, used = [], 1
    for index, column in enumerate(columns):
        need = max([len(column)] + [len(row[index]) for row in cells if index < len(row)]) + 3
        if shown and used + min(need, MAX_CELL + 3) > width:
            break
        shown.append(index)
        used += min(need, MAX_CELL + 3)
    hidden = len(columns) - len(shown)
    caption = f"{len(result.rows):,} rows in {result.seconds:.2f} s"
    if hidden:
        caption += f"; {hidden} of {len(columns)} columns not shown ({', '.join(columns[i] for i in range(len(columns)) if i not in shown)}): select them with --sql, or use --format json"
    table = Table(title=title, caption=caption)
    for index in shown:
        table.add_column(columns[index], overflow="ellipsis", no_wrap=True, max_width=MAX_CELL)
    for row in cells:
        table.add_row(*(row[i] for i in shown))
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


def query_json(results: list[tuple[str, QueryResult]]) -> str:
    """One JSON document: a query's rows as records; several queries as a list of titled results."""

    def records(result: QueryResult) -> list[dict]:
        return [dict(zip(result.columns, row)) for row in result.rows]

    if len(results) == 1:
        document = records(results[0][1])
    else:
        document = [{"title": title, "sql": result.sql, "rows": records(result)} for title, result in results]
    return orjson.dumps(document, default=str, option=orjson.OPT_INDENT_2).decode()


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
    table = Table(
        title=f"Workshop readiness: {result.account}"
        + (f" ({result.account_id})" if result.account_id else "")
    )
    table.add_column("requirement")
    table.add_column("result")
    table.add_column("detail")
    table.add_column("fix")
    for line in result.lines:
        table.add_row(line.name, _STATUS[line.status], line.detail, line.fix if line.status != "pass" else "")
    return table


def account_summary_table(results) -> Table:
    table = Table(title="Workshop accounts, failing first")
    table.add_column("account")
    table.add_column("id")
    table.add_column("result")
    table.add_column("failing")
    for result in results:
        failing = [
            f"{line.name}: {line.fix or line.detail}" for line in result.lines if line.status == "fail"
        ]
        table.add_row(
            result.account,
            result.account_id,
            _STATUS["pass" if result.passed else "fail"],
            "\n".join(failing),
        )
    return table


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


def delivery_text(counts) -> str:
    """What a message destination did, in a line: delivered, not sent (why), retries, requests."""
    not_sent = ", ".join(f"{n:,} {why}" for why, n in sorted(counts.not_sent.items()))
    return (
        f"{counts.delivered:,} messages delivered"
        + (f", not sent: {not_sent}" if not_sent else "")
        + f" in {counts.requests:,} requests ({counts.retries:,} retried)"
    )
