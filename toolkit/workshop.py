"""Exercise 1 of the workshop end to end: generate, explore, transform (interactions, users and
items), validate (each dataset and across them), schema, evaluate."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from toolkit.aws.s3 import AwsOptions, S3Url, download_file, upload
from toolkit.exploring.engines import WORKSHOP_QUERIES, DuckDBExplorer, QueryResult
from toolkit.exploring.logs_view import sql_text
from toolkit.exploring.printable import printable
from toolkit.files import write_atomically
from toolkit.personalize.evaluate import Evaluation, evaluate_csv
from toolkit.personalize.schema import interactions_schema, schema_json
from toolkit.personalize.validate import ValidationReport, with_datasets
from toolkit.reporting.build import Report, add_figures, write_report
from toolkit.segment.layout import CATALOG_NAME
from toolkit.segment.logs import find_log_files
from toolkit.segment.sinks import LocalSink, S3Sink
from toolkit.simulate.run import SimulationResult, generate
from toolkit.simulate.scenario import Scenario
from toolkit.transforming.run import transform
from toolkit.transforming.summary import TransformOptions, TransformSummary

SCHEMA_NAME = "interactions.avsc"
USERS_NAME = "users.csv"
ITEMS_NAME = "items.csv"
REPORT_NAME = "report.html"


@dataclass
class WorkshopRun:
    generated: SimulationResult
    logs: str
    queries: list[tuple[str, QueryResult]]
    transformed: TransformSummary
    csv: str
    validation: ValidationReport
    schema: str
    users: str
    items: str | None  # None when the scenario has no catalog to describe its items
    datasets: list[ValidationReport]  # the Users and Items datasets' own validation
    evaluation: Evaluation
    report: str  # the HTML page of it all


def run_workshop(
    scenario: Scenario,
    start: date,
    days: int,
    seed: int,
    out: Path,
    bucket: str | None = None,
    aws: AwsOptions | None = None,
    on_progress=None,
) -> WorkshopRun:
    """Run every step into `out` (and, with `bucket`, against s3://bucket/ like the real workshop)."""
    aws = aws or AwsOptions()
    sink = S3Sink(f"s3://{bucket}/", aws) if bucket else LocalSink(out)
    sink.check()
    generated = generate(scenario, start, days, seed, sink, on_shard_done=on_progress)
    logs = f"s3://{bucket}/segment-logs/" if bucket else str(out / "segment-logs")
    with find_log_files(logs, aws) as files:
        explorer = DuckDBExplorer(files)
        try:
            queries = [(title, printable(explorer.run(sql_text(name)))) for title, name in WORKSHOP_QUERIES]
        finally:
            explorer.close()
    csv_target = f"s3://{bucket}/transformed/" if bucket else str(out / "transformed" / "interactions.csv")
    if not bucket:
        (out / "transformed").mkdir(parents=True, exist_ok=True)
    # Users, Items and the schema sit beside transformed/, not in it: Personalize imports every file of a folder.
    users_path, items_path = out / USERS_NAME, (out / ITEMS_NAME if scenario.products else None)
    catalog = out / CATALOG_NAME
    if scenario.products and bucket:
        write_atomically(catalog, scenario.catalog_lines())  # generate wrote it to the bucket
    transformed = transform(
        logs,
        out=csv_target,
        options=TransformOptions.for_domain(item_field=scenario.item_id, domain=scenario.domain),
        aws=aws,
        diagnostics=True,
        users=str(users_path),
        items=str(items_path) if items_path else None,
        catalog=str(catalog) if items_path else None,
    )
    summary, csv_location, report = transformed.summary, transformed.written_to, transformed.validation
    schema_path = out / SCHEMA_NAME
    write_atomically(schema_path, schema_json(interactions_schema()).encode())
    schema_location = str(schema_path)
    if bucket:
        upload(schema_path, S3Url(bucket, SCHEMA_NAME), aws)
        schema_location = f"s3://{bucket}/{SCHEMA_NAME}"
    with tempfile.TemporaryDirectory() as folder:
        local = Path(csv_target)
        if bucket:
            local = Path(folder) / "interactions.csv"
            download_file(S3Url.parse(csv_location), local, aws)
        datasets = with_datasets(report, local, users_path, items_path)
        evaluation = evaluate_csv(local)
        page = Report(
            str(out), accounting=summary, validation=report, datasets=datasets, evaluation=evaluation
        )
        with find_log_files(logs, aws) as files:
            add_figures(page, scenario, files, local)
    write_report(page, out / REPORT_NAME)
    return WorkshopRun(
        generated,
        logs,
        queries,
        summary,
        csv_location,
        report,
        schema_location,
        str(users_path),
        str(items_path) if items_path else None,
        datasets,
        evaluation,
        str(out / REPORT_NAME),
    )
