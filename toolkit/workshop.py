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
from toolkit.progress import SILENT, Steps
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
STEPS = 7  # generate, explore, transform, validate, schema, evaluate, report


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
    steps: Steps = SILENT,
) -> WorkshopRun:
    """Run every step into `out` (and, with `bucket`, against s3://bucket/ like the real workshop),
    telling `steps` of each of the STEPS as it goes and ends."""
    aws = aws or AwsOptions()
    sink = S3Sink(f"s3://{bucket}/", aws) if bucket else LocalSink(out)
    sink.check()
    steps.begin(f"simulating {days:,} days")
    generated = generate(scenario, start, days, seed, sink, on_shard_done=steps.advance)
    steps.end("generate", f"{generated.messages:,} messages in {generated.files:,} files")
    logs = f"s3://{bucket}/segment-logs/" if bucket else str(out / "segment-logs")
    with find_log_files(logs, aws) as files:
        explorer = DuckDBExplorer(files, on_progress=steps.advance)
        try:
            queries = []
            for title, name in WORKSHOP_QUERIES:
                steps.begin(f"querying: {title.lower()}")
                queries.append((title, printable(explorer.run(sql_text(name)))))
        finally:
            explorer.close()
    steps.end("explore", f"the workshop's {len(queries)} queries")
    csv_target = f"s3://{bucket}/transformed/" if bucket else str(out / "transformed" / "interactions.csv")
    if not bucket:
        (out / "transformed").mkdir(parents=True, exist_ok=True)
    # Users, Items and the schema sit beside transformed/, not in it: Personalize imports every file
    # of a folder.
    users_path, items_path = out / USERS_NAME, (out / ITEMS_NAME if scenario.products else None)
    catalog = out / CATALOG_NAME
    if scenario.products and bucket:
        write_atomically(catalog, scenario.catalog_lines())  # generate wrote it to the bucket
    transformed = transform(
        logs,
        out=csv_target,
        options=TransformOptions.for_domain(
            item_field=scenario.item_id, domain=scenario.domain, event_types=scenario.events
        ),
        aws=aws,
        diagnostics=True,
        users=str(users_path),
        items=str(items_path) if items_path else None,
        catalog=str(catalog) if items_path else None,
        steps=steps,
    )
    summary, csv_location, report = transformed.summary, transformed.written_to, transformed.validation
    made = [f"{summary.interactions:,} interactions"]
    if summary.users_dataset is not None:
        made.append(f"{summary.users_dataset.users:,} users")
    if summary.items_dataset is not None:
        made.append(f"{summary.items_dataset.items:,} items")
    steps.end("transform", ", ".join(made))
    with tempfile.TemporaryDirectory() as folder:
        local = Path(csv_target)
        if bucket:
            local = Path(folder) / "interactions.csv"
            download_file(S3Url.parse(csv_location), local, aws)
        steps.begin("validating the datasets against each other")
        datasets = with_datasets(report, local, users_path, items_path)
        checked = [report, *datasets]
        failed = sum(not r.valid for r in checked)
        steps.end(
            "validate",
            f"{len(checked)} datasets, {failed} invalid" if failed else f"{len(checked)} datasets valid",
        )
        schema_path = out / SCHEMA_NAME
        write_atomically(schema_path, schema_json(interactions_schema()).encode())
        schema_location = str(schema_path)
        if bucket:
            steps.begin(f"uploading {SCHEMA_NAME}")
            upload(schema_path, S3Url(bucket, SCHEMA_NAME), aws, steps.advance)
            schema_location = f"s3://{bucket}/{SCHEMA_NAME}"
        steps.end("schema", schema_location)
        steps.begin("evaluating popularity against co-occurrence")
        evaluation = evaluate_csv(local)
        steps.end("evaluate", f"co-occurrence finds {evaluation.ratio:.2f}x what popularity finds")
        steps.begin("drawing charts")
        page = Report(
            str(out), accounting=summary, validation=report, datasets=datasets, evaluation=evaluation
        )
        with find_log_files(logs, aws) as files:
            add_figures(page, scenario, files, local)
    write_report(page, out / REPORT_NAME)
    steps.end("report", str(out / REPORT_NAME))
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
