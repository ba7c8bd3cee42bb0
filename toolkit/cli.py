"""The `toolkit` command: a thin layer that parses options, calls the library and renders with rich."""

from __future__ import annotations

import enum
import os
import signal
import tempfile
import threading
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

try:  # typer 0.2x carries its own copy of click; older ones use click itself
    from typer._click import exceptions as click_exceptions
    from typer._click.globals import get_current_context
except ImportError:
    from click import exceptions as click_exceptions  # type: ignore[no-redef]  # the same, from click
    from click.globals import get_current_context  # type: ignore[no-redef]


from rich.text import Text

from toolkit import __version__
from toolkit.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_USAGE, UsageError, describe_failure
from toolkit.render import (
    LazyProgress,
    console,
    errors,
    keep_exit_codes_under_pipes,
    print_json,
    say_error,
    with_progress,
)

if TYPE_CHECKING:
    from toolkit.destinations import DestinationOptions
    from toolkit.simulate.scenario import Scenario

# The library names its parameters in errors (`out`); a user of the CLI reads the flag (--out).
# A parameter is its flag with dashes for underscores, but for these.
FLAGS = {"start": "--date", "item_field": "--item-id", "write_keys": "--write-key"}
FLAGS |= {"sources": "SRC", "confirm": "--set-bucket-policy"}  # toolkit import


def flag(parameter: str) -> str:
    """The option of the CLI that sets the library's `parameter`."""
    return FLAGS.get(parameter, "--" + parameter.replace("_", "-"))


class ToolkitGroup(TyperGroup):
    """The one place every failure of every command becomes one line and an exit code
    (toolkit.errors): no command can print a raw traceback."""

    def parse_args(self, ctx, args):
        """`toolkit --bogus` is one line too, like every other usage error."""
        try:
            return super().parse_args(ctx, args)
        except click_exceptions.UsageError as exc:
            say_error(f"{' '.join(exc.format_message().split())} (see 'toolkit --help')")
            raise typer.Exit(EXIT_USAGE) from None

    def invoke(self, ctx):
        _interrupt_on_sigterm()
        keep_exit_codes_under_pipes()
        try:
            return super().invoke(ctx)
        except typer.Exit:
            raise
        except click_exceptions.UsageError as exc:
            command = f"toolkit {exc.ctx.info_name}" if exc.ctx and exc.ctx.parent else "toolkit"
            say_error(f"{usage_message(exc)} (see '{command} --help')")
            raise typer.Exit(EXIT_USAGE) from None
        except BrokenPipeError:  # the reader went away (e.g. | head) before any result: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            raise typer.Exit(0) from None
        except (KeyboardInterrupt, typer.Abort):
            errors.print("interrupted; nothing half-written was left behind", highlight=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except UsageError as exc:
            say_error(exc.naming(flag))
            raise typer.Exit(EXIT_USAGE) from None
        except Exception as exc:  # noqa: BLE001 - this is the place that reports every failure
            if (
                type(exc).__name__ == "InterruptException" or str(exc) == "Query interrupted"
            ):  # DuckDB stopped a query on Ctrl-C
                errors.print("interrupted; nothing half-written was left behind", highlight=False)
                raise typer.Exit(EXIT_INTERRUPTED) from None
            message = describe_failure(exc)
            if message is not None:
                say_error(message)
                raise typer.Exit(EXIT_USAGE) from None
            say_error(
                f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:200]} - a bug; the "
                f"traceback is in {_crash_log(exc)}"
            )
            raise typer.Exit(EXIT_BUG) from None


def usage_message(exc) -> str:
    """click's message on one line, without a library's prefix ("Value error, "), and for a
    choice mistyped, the choice it was probably meant to be."""
    import difflib
    import re

    message = " ".join(exc.format_message().split()).replace("Value error, ", "")
    given = re.search(r"'([^']*)' is not one of (.*)$", message)
    if given:
        close = difflib.get_close_matches(given[1], re.findall(r"'([^']*)'", given[2]), n=1)
        message = message.rstrip(".") + (f"; did you mean '{close[0]}'?" if close else "")
    return message


def _interrupt_on_sigterm() -> None:
    """SIGTERM stops a command as Ctrl-C does: temporary files removed, nothing half-written,
    exit 130 (the collector installs its own handlers, which publish first)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _crash_log(exc: BaseException) -> str:
    handle, path = tempfile.mkstemp(prefix="toolkit-crash-", suffix=".log")
    with os.fdopen(handle, "w", encoding="utf-8") as log:
        log.write(f"toolkit {__version__}\n")
        log.write("".join(traceback.format_exception(exc)))
    return path


app = typer.Typer(
    cls=ToolkitGroup,
    help="Segment clickstream to Amazon Personalize training data: generate, explore, transform, validate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: wrapped by words, never an option cut with an ellipsis
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        print(f"toolkit {__version__}")
        raise typer.Exit()


@app.callback()
def toolkit(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            envvar="AWS_PROFILE", help="AWS profile for every command (a command's own --profile wins)."
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            envvar="AWS_REGION",
            help=(
                "AWS region for every command (default: the profile's, as boto3 resolves it, else us-east-1)."
            ),
        ),
    ] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(help="S3-compatible endpoint for every command, e.g. http://127.0.0.1:5000.")
    ] = None,
) -> None:
    """Segment clickstream to Amazon Personalize training data, offline on DuckDB or on AWS.

    Examples:

      toolkit workshop --date 2026-11-01 --days 3

      toolkit --profile workshop --region us-west-2 check --fix --dry-run"""
    ctx.obj = GlobalAws(profile, region, endpoint_url)


@dataclass(frozen=True)
class GlobalAws:
    """The AWS options given before the verb (or by AWS_PROFILE, AWS_REGION)."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


def global_aws() -> GlobalAws:
    context = get_current_context(silent=True)
    found = context.find_root().obj if context is not None else None
    return found if isinstance(found, GlobalAws) else GlobalAws()


class Sink(enum.StrEnum):
    files = "files"
    s3 = "s3"
    segment = "segment"


class Cadence(enum.StrEnum):
    hourly = "hourly"
    continuous = "continuous"


class TransformEngine(enum.StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class ExploreEngine(enum.StrEnum):
    duckdb = "duckdb"
    athena = "athena"


class OutputFormat(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class Domain(enum.StrEnum):
    ecommerce = "ecommerce"


class Dataset(enum.StrEnum):
    interactions = "interactions"
    users = "users"
    items = "items"


class ItemId(enum.StrEnum):
    sku = "sku"
    product_id = "product_id"


TABLE_ROWS = 40  # rows of a query shown as a table by default, as DuckDB's CLI shows them
MAX_FLUSH_MB = 1_024  # the collector's journal published at most this much at once
MAX_FLUSH_SECONDS = 86_400


def warn(message: str) -> None:
    """A line on stderr about something that is allowed but probably not meant."""
    errors.print(Text.assemble(("warning: ", "yellow"), message), highlight=False)


def warn_of_a_future_start(start: str, days: int | None, until: str | None) -> None:
    """Warn when the first day simulated has not come yet (the run's days are checked here too)."""
    from toolkit.generating import plan_days

    first_day, _ = plan_days(start, days=days, until=until)
    if first_day > datetime.now(UTC).date():
        warn(
            f"--date {first_day} is in the future: Segment has no folder for a day that has not come "
            "(the logs are simulated all the same)"
        )


def aws_options(profile: str | None, region: str | None, endpoint_url: str | None):
    """The command's AWS options, each falling back to the one given before the verb (or by env)."""
    from toolkit.aws.s3 import AwsOptions

    given = global_aws()
    return AwsOptions(profile or given.profile, region or given.region, endpoint_url or given.endpoint_url)


def destination_options(
    scenario: Scenario | None, profile: str | None, region: str | None, endpoint_url: str | None, **chosen
) -> DestinationOptions:
    """What the destinations are given: AWS, the scenario's source names (generate's face fills
    them in itself), and the options of each kind of destination."""
    from toolkit.destinations import DestinationOptions

    return DestinationOptions(
        aws=aws_options(profile, region, endpoint_url),
        source_names={source.id: source.key for source in scenario.sources.values()} if scenario else {},
        source_slugs={source.id: source.name for source in scenario.sources.values()} if scenario else {},
        **chosen,
    )


LayoutOption = Annotated[
    str, typer.Option(help="What a folder or s3:// --out holds: segment (Segment's S3 layout) or firehose.")
]
PartitionKeyOption = Annotated[
    str, typer.Option(help="Kinesis: user (userId, else anonymousId, as Segment) or message-id.")
]
StreamPerSourceOption = Annotated[
    bool,
    typer.Option("--stream-per-source", help="Kinesis: a stream per source, named by {source} in --out."),
]
CreateOption = Annotated[bool, typer.Option("--create", help="Kinesis: create missing streams (--shards).")]
ReadLayoutOption = Annotated[
    str | None,
    typer.Option(
        "--layout",
        help="What the folder or s3:// source holds: segment (Segment's S3 layout) or firehose "
        "(a Firehose stream's objects); default: as its keys show.",
    ),
]
SyncMinutesOption = Annotated[
    int,
    typer.Option(
        help="Warehouse: load a sync every so many minutes of message time (Segment: hourly at best)."
    ),
]
ShardsOption = Annotated[int, typer.Option(help="Kinesis: shards of a stream --create makes.")]
FirehoseMapOption = Annotated[
    str | None,
    typer.Option(
        help='Firehose: Segment\'s mappedStreams, e.g. "Order Completed=orders,track=events,*=all".'
    ),
]
FirehoseApiOption = Annotated[
    str, typer.Option(help="Firehose: record (PutRecord a message, as Segment) or batch (PutRecordBatch).")
]
CompressionOption = Annotated[str, typer.Option(help="--layout firehose: none or gzip.")]
BufferMbOption = Annotated[float, typer.Option(help="--layout firehose: buffer size, MB (1-128).")]
BufferSecondsOption = Annotated[float, typer.Option(help="--layout firehose: buffer interval, s (0-900).")]


StartOption = Annotated[str, typer.Option("--date", help="First day to simulate, YYYY-MM-DD (UTC).")]
DaysOption = Annotated[int | None, typer.Option(help="Number of days to simulate (instead of --until).")]
UntilOption = Annotated[
    str | None, typer.Option(help="Last day to simulate, YYYY-MM-DD. Default: yesterday (UTC).")
]
ScenarioOption = Annotated[str, typer.Option(help="Scenario TOML file, or the name of a bundled one.")]
SeedOption = Annotated[
    int, typer.Option(help="Random seed: the same seed and options give byte-identical files.")
]
VisitorsOption = Annotated[
    int | None, typer.Option(help="New visitors per platform per day (default: the scenario's).")
]
ProfileOption = Annotated[
    str | None, typer.Option(help="AWS profile (default: the standard credential chain).")
]
RegionOption = Annotated[
    str | None, typer.Option(help="AWS region (default: the profile's, else us-east-1).")
]
EndpointOption = Annotated[
    str | None, typer.Option(help="S3-compatible endpoint, e.g. http://127.0.0.1:5000 for moto.")
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print nothing but errors; the exit code tells the result.")
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the summary as one JSON document, and nothing else.")
]


@app.command()
def generate(
    start: StartOption,
    days: DaysOption = None,
    until: UntilOption = None,
    scenario: ScenarioOption = "workshop",
    seed: SeedOption = 1,
    users_per_day: VisitorsOption = None,
    out: Annotated[
        list[str] | None,
        typer.Option(
            help=(
                "Where to deliver, repeatable: a folder or s3://bucket/prefix (segment-logs/ under it), "
                "kinesis://STREAM, firehose://STREAM, postgresql://..., PATH.duckdb, "
                "personalize-events://TRACKING_ID (default: out)."
            )
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes to simulate with (default: one per core).")
    ] = None,
    sink: Annotated[
        Sink,
        typer.Option(
            help=(
                "files (--out a folder, or s3://bucket/prefix for S3), s3, or segment (send with the "
                "official client)."
            )
        ),
    ] = Sink.files,
    write_key: Annotated[
        list[str] | None,
        typer.Option(help="For --sink segment: SOURCE=KEY, repeatable (or SEGMENT_WRITE_KEY_<SOURCE>)."),
    ] = None,
    keys_file: Annotated[
        str | None, typer.Option(help="For --sink segment: a file of SOURCE=KEY lines.")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help=(
                "For --sink segment: API endpoint, e.g. https://events.eu1.segmentapis.com or a "
                "collector's http://127.0.0.1:PORT."
            )
        ),
    ] = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    layout: LayoutOption = "segment",
    cadence: Annotated[
        Cadence,
        typer.Option(
            help="Segment's S3 files: hourly (a file per source and hour) or continuous (small files "
            "every few minutes from several writers, as the S3 destination writes them today)."
        ),
    ] = Cadence.hourly,
    partition_key: PartitionKeyOption = "user",
    stream_per_source: StreamPerSourceOption = False,
    create: CreateOption = False,
    shards: ShardsOption = 1,
    firehose_map: FirehoseMapOption = None,
    firehose_api: FirehoseApiOption = "record",
    compression: CompressionOption = "none",
    buffer_mb: BufferMbOption = 5.0,
    buffer_seconds: BufferSecondsOption = 300.0,
    sync_minutes: SyncMinutesOption = 60,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Say what would be written, where and about how much (the first day simulated, "
            "written nowhere), and write nothing.",
        ),
    ] = False,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Simulate users on the scenario's sources and write Segment's S3 destination layout (or send to Segment)."""  # noqa: E501 - `toolkit --help` lists the line as written
    from toolkit import generate as run_generate
    from toolkit.generating import choose_scenario, plan_days

    warn_of_a_future_start(start, days, until)
    if sink is Sink.segment:
        first_day, day_count = plan_days(start, days=days, until=until)
        chosen = choose_scenario(scenario, users_per_day=users_per_day)
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be at least 1, not {workers}")
        _generate_to_segment(chosen, first_day, day_count, seed, workers, write_key, keys_file, host)
        return
    outs = out or ["out"]
    if sink is Sink.s3 and not any(o.startswith("s3://") for o in outs):
        raise UsageError("--sink s3 needs --out s3://bucket/prefix")
    if dry_run:
        first_day, day_count = plan_days(start, days=days, until=until)
        chosen = choose_scenario(scenario, users_per_day=users_per_day)
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be at least 1, not {workers}")
        _generate_dry_run(chosen, first_day, day_count, seed, workers, outs, quiet=quiet, as_json=as_json)
        return
    delivery = destination_options(
        None,
        profile,
        region,
        endpoint_url,
        layout=layout,
        partition_key=partition_key,
        stream_per_source=stream_per_source,
        create=create,
        shards=shards,
        firehose_map=firehose_map,
        firehose_api=firehose_api,
        compression=compression,
        buffer_mb=buffer_mb,
        buffer_seconds=buffer_seconds,
        sync_minutes=sync_minutes,
    )
    result = with_progress(
        "simulating",
        lambda on_progress: run_generate(
            scenario,
            start=start,
            days=days,
            until=until,
            seed=seed,
            users_per_day=users_per_day,
            out=outs,
            workers=workers,
            destination_options=delivery,
            on_progress=on_progress,
            cadence=cadence.value,
        ),
        show=not quiet,
    )
    if as_json:
        print_json(result.as_dict())
    elif not quiet:
        from toolkit.render import print_generated

        print_generated(result)


def _generate_dry_run(scenario, first_day, day_count, seed, workers, outs, *, quiet, as_json) -> None:
    from toolkit.render import print_estimate
    from toolkit.simulate.estimate import estimate

    found = with_progress(
        "simulating the first day",
        lambda _: estimate(scenario, first_day, day_count, seed, workers=workers),
        show=not quiet,
    )
    last_day = first_day + timedelta(days=day_count - 1)
    if as_json:
        print_json(
            {"dry_run": True, "first_day": first_day, "last_day": last_day, "to": outs, **found.as_dict()}
        )
    elif not quiet:
        print_estimate(found, first_day, last_day, outs)


def _generate_to_segment(scenario, first_day, day_count, seed, workers, pairs, keys_file, host) -> None:
    from toolkit.render import send_summary
    from toolkit.segment.send import shown_url
    from toolkit.sending import simulate_and_send

    progress = LazyProgress("simulating")

    def simulated(generated) -> None:
        progress.close()
        target = shown_url(host) if host else "Segment (api.segment.io)"
        console.print(f"simulated {generated.messages:,} messages; sending to {target}")

    try:
        _, result = simulate_and_send(
            scenario,
            first_day=first_day,
            days=day_count,
            seed=seed,
            workers=workers,
            write_keys=pairs,
            keys_file=keys_file,
            host=host,
            on_progress=progress.update,
            on_simulated=simulated,
        )
    finally:
        progress.close()
    console.print(send_summary(scenario, result))
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def transform(
    source: Annotated[
        str,
        typer.Argument(
            help="Segment logs: a folder (holding segment-logs/, or a Firehose layout), s3://bucket/prefix, "
            "or kinesis://STREAM; or Segment's warehouse: postgresql://USER@HOST:PORT/DB or PATH.duckdb."
        ),
    ],
    out: Annotated[
        str,
        typer.Option(help="CSV file, folder, or s3://bucket/transformed/ (the file is interactions.csv)."),
    ] = "interactions.csv",
    event_types: Annotated[
        str | None,
        typer.Option(
            help=(
                "Comma-separated events to keep (default: Product Added, Order Completed, Product Clicked; "
                "with --domain, the events its map names)."
            )
        ),
    ] = None,
    domain: Annotated[
        Domain | None,
        typer.Option(
            help=(
                "Write EVENT_TYPE as this Personalize domain's recommenders read it (ecommerce: View, "
                "Purchase, ...)."
            )
        ),
    ] = None,
    event_map: Annotated[
        str | None,
        typer.Option(
            help=(
                'With --domain: a TOML file of "Segment event" = "EVENT_TYPE" lines instead of the '
                "bundled map."
            )
        ),
    ] = None,
    item_id: Annotated[
        ItemId, typer.Option(help="Property holding the item id (also read from each products[] entry).")
    ] = ItemId.sku,
    rejects: Annotated[
        str | None,
        typer.Option(help="Write lines that are not messages here (JSON lines: file, line, reason, text)."),
    ] = None,
    users: Annotated[
        str | None,
        typer.Option(
            help=(
                "Also write Personalize's Users dataset here (a local CSV; its schema beside it, .avsc), "
                "from identify traits."
            )
        ),
    ] = None,
    user_fields: Annotated[
        str | None,
        typer.Option(
            help=(
                "Comma-separated traits for --users (default: numerical traits and categorical ones with "
                "few values, at most 25)."
            )
        ),
    ] = None,
    items: Annotated[
        str | None,
        typer.Option(
            help=(
                "Also write Personalize's Items dataset here (a local CSV; its schema beside it), from the "
                "events' product properties and --catalog."
            )
        ),
    ] = None,
    catalog: Annotated[
        str | None,
        typer.Option(
            help=(
                "With --items: the store's catalog export, JSON lines of products (generate writes "
                "catalog.jsonl beside segment-logs/); its values come first."
            )
        ),
    ] = None,
    engine: Annotated[
        TransformEngine, typer.Option(help="duckdb (this machine) or spark (the Spark job, see --master).")
    ] = TransformEngine.duckdb,
    master: Annotated[str, typer.Option(help="Spark master for --engine spark.")] = "local[2]",
    verbose: Annotated[
        bool, typer.Option("--verbose", help="With --engine spark: show the JVM's own log lines too.")
    ] = False,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    read_layout: ReadLayoutOption = None,
    print_sql: Annotated[
        bool,
        typer.Option(
            "--print-sql",
            help=(
                "With a warehouse SRC: print the Redshift UNLOAD writing the same CSV to --out s3://... "
                "instead."
            ),
        ),
    ] = False,
    iam_role: Annotated[
        str, typer.Option(help="With --print-sql: the role ARN Redshift assumes to write to S3.")
    ] = "${iam_role}",
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Filter and map Segment logs into the interactions CSV Personalize imports, counting every message.

    Exit 0 when the CSV passes Personalize's rules, 1 when it does not."""
    from toolkit import TransformOptions
    from toolkit import transform as run_transform
    from toolkit.progress import SILENT
    from toolkit.render import StepLines

    events = (
        tuple(e.strip() for e in event_types.split(",") if e.strip()) if event_types is not None else None
    )
    options = TransformOptions.for_domain(
        item_field=item_id.value,
        domain=domain.value if domain else None,
        event_map=event_map,
        event_types=events,
    )
    if print_sql:
        from toolkit.transforming.warehouse_engine import unload_statement

        prefix = out + "interactions_" if out.startswith("s3://") and out.endswith("/") else out
        typer.echo(
            unload_statement(
                source,
                options,
                s3_prefix=prefix if prefix.startswith("s3://") else "${s3_prefix}",
                iam_role=iam_role,
            ),
            nl=False,
        )
        return
    bars = StepLines(lines=False)
    try:
        result = run_transform(
            source,
            out=out,
            options=options,
            aws=aws_options(profile, region, endpoint_url),
            rejects=rejects,
            users=users,
            user_fields=[t.strip() for t in user_fields.split(",") if t.strip()] if user_fields else None,
            items=items,
            catalog=catalog,
            engine=engine.value,
            master=master,
            layout=read_layout,
            steps=SILENT if quiet else bars,
            verbose=verbose,
        )
    finally:
        bars.close()
    if as_json:
        print_json(result.as_dict())
    elif not quiet:
        from toolkit.render import print_transform

        print_transform(
            result,
            bool(rejects),
            [path for path in (users, items) if path],
            events or (),
        )
    if not result.valid:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def validate(
    csv_path: Annotated[
        str, typer.Argument(metavar="CSV", help="A dataset CSV: interactions, users or items (a local file).")
    ],
    dataset: Annotated[
        Dataset | None, typer.Option(help="Which dataset the CSV is (default: told by its header).")
    ] = None,
    users: Annotated[
        str | None,
        typer.Option(
            help="Also validate this Users CSV, and the interactions against it (missing and cold users)."
        ),
    ] = None,
    items: Annotated[
        str | None,
        typer.Option(
            help="Also validate this Items CSV, and the interactions against it (missing and cold items)."
        ),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            help=(
                "Avro schema (.avsc) the CSV must match (default: the .avsc of the same name beside it, "
                "else inferred from the header)."
            )
        ),
    ] = None,
    domain: Annotated[
        Domain | None,
        typer.Option(
            help=(
                "Also check this domain's rules (ecommerce: View and Purchase events; Items with PRICE and "
                "CATEGORY_L1)."
            )
        ),
    ] = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all", help="Show every rule (the passing ones too) and the diagnostics, not only what to fix."
        ),
    ] = False,
    quiet: QuietOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check datasets against Amazon Personalize's rules (diagnose.py's warnings included); exit 0 valid, 1 invalid, 2 unusable input."""  # noqa: E501 - `toolkit --help` lists the line as written
    import json

    from toolkit import validate as run_validate
    from toolkit.render import print_validation

    result = run_validate(
        csv_path,
        dataset=dataset.value if dataset else None,
        schema=schema,
        domain=domain.value if domain else None,
        users=users,
        items=items,
    )
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    elif not quiet:
        print_validation(result.reports, every=every)
    raise typer.Exit(0 if result.valid else 1)


@app.command()
def report(
    source: Annotated[
        str,
        typer.Argument(
            metavar="SRC",
            help=(
                "Segment logs (a folder or s3://bucket/prefix), an interactions CSV, or a workshop output "
                "folder."
            ),
        ),
    ],
    out: Annotated[Path, typer.Option(help="Where to write the HTML page.")] = Path("report.html"),
    users: Annotated[
        str | None,
        typer.Option(
            help="A Users CSV to check the interactions against (a workshop folder's users.csv is found)."
        ),
    ] = None,
    items: Annotated[
        str | None,
        typer.Option(
            help="An Items CSV to check the interactions against (a workshop folder's items.csv is found)."
        ),
    ] = None,
    scenario: Annotated[
        str,
        typer.Option(
            help="Scenario whose funnels and source names the page uses (a TOML file or a bundled name)."
        ),
    ] = "workshop",
    evaluate: Annotated[
        bool,
        typer.Option(
            "--evaluate/--no-evaluate", help="Compare popularity with co-occurrence on the interactions."
        ),
    ] = True,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    read_layout: ReadLayoutOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the figures behind the charts as one JSON document (the page is written too).",
        ),
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """One self-contained HTML page of what is in the logs and what Personalize will get.

    Charts embedded, no network. Exit 0 when the interactions pass Personalize's rules, 1 when not."""
    from toolkit import report as build_report

    built = with_progress(
        "reading, validating and drawing the report",
        lambda _: build_report(
            source,
            out=out,
            users=users,
            items=items,
            scenario=scenario,
            evaluate=evaluate,
            layout=read_layout,
            aws=aws_options(profile, region, endpoint_url),
        ),
        show=not quiet,
    )
    if as_json:
        print_json(built.as_dict())
    elif not quiet:
        from toolkit.render import print_report_verdict

        print_report_verdict(built, out)
    if not built.ready:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def evaluate(
    csv_path: Annotated[
        str, typer.Argument(metavar="CSV", help="Interactions CSV (USER_ID, ITEM_ID, TIMESTAMP).")
    ],
    k: Annotated[
        int, typer.Option("--k", min=1, max=500, help="How many items each recommender recommends.")
    ] = 25,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Is there anything to learn beyond "most popular"? Popularity against co-occurrence.

    Holds out each user's last interaction and compares a popularity baseline with an item-to-item
    co-occurrence recommender (exit 0 either way)."""
    from toolkit import evaluate as run_evaluate
    from toolkit.render import print_evaluation

    result = run_evaluate(csv_path, k=k)
    if as_json:
        print_json(result.as_dict())
    elif not quiet:
        print_evaluation(result)


@app.command()
def schema(
    csv_path: Annotated[
        str | None,
        typer.Argument(
            metavar="[CSV]",
            help=(
                "Take the columns (and, for users and items, the types) from this CSV (default: "
                "USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP)."
            ),
        ),
    ] = None,
    dataset: Annotated[
        Dataset | None, typer.Option(help="Which dataset the CSV is (default: told by its header).")
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            help=(
                "Where to write the .avsc; '-' prints it (default: the dataset's name, e.g. users.avsc, "
                "never replaced without --out)."
            )
        ),
    ] = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write the Avro schema for an interactions, users or items CSV, ready for Personalize's CreateSchema."""
    from toolkit.personalize.schema import interactions_schema, schema_json
    from toolkit.personalize.validate import schema_for_csv

    made = schema_for_csv(csv_path, dataset.value if dataset else None) if csv_path else interactions_schema()
    text = schema_json(made)
    if out == "-":
        print(text, end="")
        return
    target = Path(out or f"{made['name'].lower()}.avsc")
    if out is None and target.exists():
        raise UsageError(
            f"{target} exists; give --out {target} to replace it, or --out - to print the schema"
        )
    from toolkit.files import check_output_file

    check_output_file(target, "out", [Path(csv_path)] if csv_path else [])
    write_text_atomically(target, text)
    fields = [f["name"] for f in made["fields"]]
    if as_json:
        print_json({"dataset": made["name"], "fields": fields, "written_to": str(target)})
    elif not quiet:
        console.print(f"{made['name']} schema for {', '.join(fields)} written to {target}")


def write_text_atomically(path: Path, text: str) -> None:
    from toolkit.files import write_atomically

    try:
        write_atomically(path, text.encode())
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


@app.command()
def explore(
    source: Annotated[
        str | None,
        typer.Argument(
            metavar="[SRC]",
            help=(
                "Segment logs: a folder or s3://bucket/prefix (not needed with a loaded --db, or on Athena)."
            ),
        ),
    ] = None,
    sql: Annotated[
        str | None, typer.Option(help="A query against segment_logs (instead of the workshop's three).")
    ] = None,
    file: Annotated[Path | None, typer.Option(help="A .sql file with a query against segment_logs.")] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="How to print the results (--json is --format json).")
    ] = OutputFormat.table,
    limit: Annotated[
        int | None,
        typer.Option(
            help=f"Show at most this many rows (default: {TABLE_ROWS} in a table, the rest counted; "
            "all in CSV and JSON); 0 shows all."
        ),
    ] = None,
    db: Annotated[
        Path | None,
        typer.Option(help="DuckDB file: with SRC, load the logs into it once; without, query what it holds."),
    ] = None,
    print_ddl: Annotated[
        bool,
        typer.Option("--print-ddl", help="Print Athena's CREATE EXTERNAL TABLE for --location and exit."),
    ] = False,
    location: Annotated[str | None, typer.Option(help="s3://.../segment-logs/ for --print-ddl.")] = None,
    engine: Annotated[
        ExploreEngine, typer.Option(help="duckdb (this machine) or athena.")
    ] = ExploreEngine.duckdb,
    database: Annotated[str | None, typer.Option(help="Athena database holding segment_logs.")] = None,
    output: Annotated[str | None, typer.Option(help="s3:// location for Athena's results.")] = None,
    workgroup: Annotated[str | None, typer.Option(help="Athena workgroup.")] = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    read_layout: ReadLayoutOption = None,
    quiet: QuietOption = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the results as JSON (--format json).")
    ] = False,
) -> None:
    """Explore raw Segment logs with SQL, as the workshop does on Athena: here on DuckDB."""
    from toolkit import explore as run_explore
    from toolkit.exploring.logs_view import athena_ddl
    from toolkit.render import print_explore

    if print_ddl:
        if not location:
            raise UsageError("--print-ddl needs --location s3://bucket/prefix/segment-logs/")
        print(athena_ddl(location))
        return
    if sql and file:
        raise UsageError("give --sql or --file, not both")
    if as_json:
        output_format = OutputFormat.json
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be 0 (all rows) or more, not {limit}")
    rows = (TABLE_ROWS if output_format is OutputFormat.table else None) if limit is None else limit or None
    if file is not None:
        if not file.is_file():
            raise UsageError(f"no such file: {file}")
        sql = file.read_text(encoding="utf-8")
    result = with_progress(
        "querying",
        lambda on_progress: run_explore(
            source,
            sql=sql,
            limit=rows,
            db=db,
            engine=engine.value,
            database=database,
            output=output,
            workgroup=workgroup,
            aws=aws_options(profile, region, endpoint_url),
            on_progress=on_progress,
            layout=read_layout,
        ),
        show=not quiet,
    )
    if not quiet:
        print_explore(result, output_format.value)


@app.command()
def workshop(
    start: StartOption,
    days: DaysOption = None,
    until: UntilOption = None,
    out: Annotated[
        Path,
        typer.Option(
            help=(
                "Folder for segment-logs/, transformed/interactions.csv, the schemas, users.csv, items.csv "
                "and report.html."
            )
        ),
    ] = Path("workshop"),
    users_per_day: VisitorsOption = None,
    seed: SeedOption = 1,
    scenario: ScenarioOption = "workshop",
    bucket: Annotated[
        str | None,
        typer.Option(help="Do it against s3://BUCKET/ (segment-logs/, transformed/) like the real workshop."),
    ] = None,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Exercise 1 in one command: generate, explore, transform (interactions, users, items), validate, schema, evaluate."""  # noqa: E501 - `toolkit --help` lists the line as written
    from toolkit.generating import choose_scenario, plan_days
    from toolkit.progress import SILENT
    from toolkit.render import StepLines
    from toolkit.segment.sinks import LocalSink
    from toolkit.workshop import STEPS, run_workshop

    warn_of_a_future_start(start, days, until)
    first_day, day_count = plan_days(start, days=days, until=until)
    chosen = choose_scenario(scenario, users_per_day=users_per_day)
    LocalSink(out).check()
    aws = aws_options(profile, region, endpoint_url)
    steps = StepLines(STEPS, lines=not as_json)
    try:
        run = run_workshop(chosen, first_day, day_count, seed, out, bucket, aws, SILENT if quiet else steps)
    finally:
        steps.close()
    if as_json:
        print_json(
            {
                "interactions_csv": run.csv,
                "schema": run.schema,
                "users_csv": run.users,
                "items_csv": run.items,
                "logs": run.logs,
                "valid": run.validation.valid,
                "evaluation": run.evaluation.as_dict(),
                "datasets": [report.as_dict() for report in run.datasets],
                "report": run.report,
                "generated": run.generated.as_dict(),
                "transformed": run.transformed.as_dict(),
                "validation": run.validation.as_dict(),
                "queries": {
                    title: {"columns": result.columns, "rows": result.rows}
                    for title, result in run.queries[1:]
                },
            }
        )
    elif not quiet:
        from toolkit.render import print_workshop

        print_workshop(chosen, run)
    if not (run.validation.valid and all(report.valid for report in run.datasets)):
        raise typer.Exit(EXIT_INVALID)


@app.command()
def collector(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port, printed at start).")
    ] = 8088,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    out: Annotated[
        list[str] | None,
        typer.Option(
            help=(
                "Where to deliver, repeatable (a local Segment with several destinations): as generate's "
                "--out (default: collected)."
            )
        ),
    ] = None,
    write_key: Annotated[
        list[str] | None,
        typer.Option(
            help="SOURCE=KEY, repeatable: the keys this collector accepts (or SEGMENT_WRITE_KEY_<SOURCE>)."
        ),
    ] = None,
    keys_file: Annotated[str | None, typer.Option(help="A file of SOURCE=KEY lines.")] = None,
    scenario: Annotated[str, typer.Option(help="Scenario naming the sources and their ids.")] = "workshop",
    flush_mb: Annotated[
        float, typer.Option(help="Publish log files once this many MB are journalled...")
    ] = 8.0,
    flush_seconds: Annotated[
        float, typer.Option(help="...or once the oldest unpublished message is this old.")
    ] = 60.0,
    strict_keys: Annotated[
        bool,
        typer.Option(
            "--strict-keys",
            help="Answer 401 to an unknown write key (Segment answers 200 and drops the messages).",
        ),
    ] = False,
    fsync: Annotated[
        bool,
        typer.Option(
            "--fsync",
            help="fsync the journal before each 200: safe against power loss, not only a killed process.",
        ),
    ] = False,
    journal: Annotated[
        Path | None,
        typer.Option(
            help=(
                "Journal folder, a folder per destination under it (default: OUT/.collector-journal for "
                "the first folder --out, else ./.collector-journal)."
            )
        ),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help=(
                "Server processes sharing the port (SO_REUSEPORT), each with a journal of its own; /health "
                "answers for the process it reaches."
            ),
        ),
    ] = 1,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    layout: LayoutOption = "segment",
    partition_key: PartitionKeyOption = "user",
    stream_per_source: StreamPerSourceOption = False,
    create: CreateOption = False,
    shards: ShardsOption = 1,
    firehose_map: FirehoseMapOption = None,
    firehose_api: FirehoseApiOption = "record",
    compression: CompressionOption = "none",
    buffer_mb: BufferMbOption = 5.0,
    buffer_seconds: BufferSecondsOption = 300.0,
    sync_minutes: SyncMinutesOption = 60,
    quiet: QuietOption = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="On stopping, print what was received and published as JSON.")
    ] = False,
) -> None:
    """A local stand-in for Segment's tracking API, writing Segment's S3 layout.

    Every SDK's protocol, a journal so that a 200 means kept; stops cleanly on Ctrl-C or SIGTERM."""
    import json
    import logging

    from toolkit.collecting import CollectorSettings, default_journal, run_collector
    from toolkit.destinations import open_destinations
    from toolkit.segment.collector import CollectorSource
    from toolkit.segment.write_keys import resolve_write_keys
    from toolkit.simulate.scenario_toml import load_scenario

    chosen = load_scenario(scenario)
    keys = resolve_write_keys(list(chosen.sources), write_key, keys_file)
    if not keys:
        raise UsageError(
            "give at least one --write-key SOURCE=KEY (or SEGMENT_WRITE_KEY_<SOURCE>, or --keys-file)"
        )
    if not (0 < flush_mb <= MAX_FLUSH_MB and 0 < flush_seconds <= MAX_FLUSH_SECONDS):
        raise UsageError(
            f"--flush-mb must be a number from 0 to {MAX_FLUSH_MB:,} and --flush-seconds from 0 to "
            f"{MAX_FLUSH_SECONDS:,} (above 0), not {flush_mb} and {flush_seconds}"
        )
    outs = out or ["collected"]
    destinations = open_destinations(
        outs,
        destination_options(
            chosen,
            profile,
            region,
            endpoint_url,
            layout=layout,
            partition_key=partition_key,
            stream_per_source=stream_per_source,
            create=create,
            shards=shards,
            firehose_map=firehose_map,
            firehose_api=firehose_api,
            compression=compression,
            buffer_mb=buffer_mb,
            buffer_seconds=buffer_seconds,
            sync_minutes=sync_minutes,
        ),
    )
    sources = {
        key: CollectorSource(chosen.sources[name].name, chosen.sources[name].id) for name, key in keys.items()
    }
    settings = CollectorSettings(
        sources=sources,
        destinations=destinations,
        journal=journal or default_journal(outs),
        host=host,
        port=port,
        processes=processes,
        fsync=fsync,
        flush_bytes=int(flush_mb * 1024 * 1024),
        flush_seconds=flush_seconds,
        strict_keys=strict_keys,
    )
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(message)s")

    def ready(url: str) -> None:
        if quiet:
            return
        errors.print(
            f"collector listening on {url} for {', '.join(sorted(keys))} "
            f"({processes} process{'es' if processes > 1 else ''}); "
            f"delivering to {', '.join(d.name for d in destinations)}",
            highlight=False,
        )

    try:
        run = run_collector(settings, ready)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if as_json:
        print_json(run.as_dict())
    elif not quiet:
        errors.print(f"collector stopped: {json.dumps(run.as_dict())}", highlight=False, soft_wrap=True)
    for failure in run.failures:
        say_error(f"{failure}; the others were stopped and its journal published")
    if run.unpublished:
        say_error(
            f"{run.unpublished:,} acknowledged messages could not be published; they wait in the journal "
            f"{run.journal} and are published when a collector starts on it again"
        )
    if not run.ok:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def check(
    profile: ProfileOption = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="The workshop's region (default: the profile's, as boto3 resolves it, else us-east-1)."
        ),
    ] = None,
    endpoint_url: EndpointOption = None,
    source: Annotated[
        str, typer.Option(help="The raw Segment logs the Glue job reads.")
    ] = "s3://segment-personalize-workshop/segment-logs/",
    database: Annotated[
        str, typer.Option(help="Athena (Glue catalog) database for segment_logs.")
    ] = "segment",
    athena_output: Annotated[
        str | None,
        typer.Option(help="Athena results location (default: s3://<data bucket>/athena-results/)."),
    ] = None,
    write_key: Annotated[
        list[str] | None,
        typer.Option(help="SOURCE=KEY for web, android, ios, personas (or SEGMENT_WRITE_KEY_<SOURCE>)."),
    ] = None,
    keys_file: Annotated[str | None, typer.Option(help="A file of SOURCE=KEY lines.")] = None,
    host: Annotated[
        str, typer.Option(help="Segment API endpoint the probe messages go to.")
    ] = "https://api.segment.io",
    skip_segment: Annotated[bool, typer.Option("--skip-segment", help="Check AWS only.")] = False,
    accounts: Annotated[
        str | None,
        typer.Option(help="CSV of accounts (profile or role ARN, optional name) to check concurrently."),
    ] = None,
    fix: Annotated[
        bool,
        typer.Option(
            "--fix",
            help=(
                "Create what is missing and safe to create (bucket, folders, Athena database and results "
                "location); never IAM."
            ),
        ),
    ] = False,
    personalize_role: Annotated[
        str | None,
        typer.Option(
            help=(
                "Role Personalize's import jobs assume (default: toolkit-personalize-s3-read, or the "
                "workshop's)."
            )
        ),
    ] = None,
    dataset_group: Annotated[
        str | None, typer.Option(help="Also check that this Personalize dataset group is ACTIVE.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --fix: say what would be created, and create nothing.")
    ] = False,
    quiet: QuietOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Is a workshop account ready for Exercise 1 and its import into Personalize? Exit 0 when every
    line passes."""
    import json

    from toolkit.checking import CheckOptions, check_account, check_accounts, read_accounts
    from toolkit.render import print_check
    from toolkit.segment.write_keys import resolve_write_keys
    from toolkit.simulate.scenario_toml import load_scenario

    keys = {} if skip_segment else resolve_write_keys(list(load_scenario().sources), write_key, keys_file)
    if dry_run and not fix:
        raise UsageError("--dry-run goes with --fix (a check alone creates nothing)")
    aws = aws_options(profile, region, endpoint_url)
    options = CheckOptions(
        region=aws.region,
        endpoint_url=aws.endpoint_url,
        source=source,
        database=database,
        athena_output=athena_output,
        write_keys=keys,
        host=host,
        skip_segment=skip_segment,
        fix=fix,
        dry_run=dry_run,
        personalize_role=personalize_role,
        dataset_group=dataset_group,
    )
    results = (
        check_accounts(read_accounts(accounts), options)
        if accounts
        else [check_account(aws.profile, aws.profile or "default", options)]
    )
    if as_json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    elif not quiet:
        print_check(results, batch=bool(accounts))
    raise typer.Exit(0 if all(r.passed for r in results) else 1)


class ImportDomain(enum.StrEnum):
    auto = "auto"
    ecommerce = "ecommerce"
    none = "none"


@app.command("import")
def import_(
    sources: Annotated[
        list[str],
        typer.Argument(
            metavar="SRC...",
            help=(
                "A workshop folder, dataset CSVs (interactions, users, items; each .avsc beside it is "
                "its schema) or their s3:// URLs."
            ),
        ),
    ],
    dataset_group: Annotated[
        str, typer.Option(help="The dataset group to import into: reused by name, or created.")
    ],
    bucket: Annotated[
        str | None, typer.Option(help="Bucket to upload local CSVs to (under DATASET_GROUP/).")
    ] = None,
    role_arn: Annotated[
        str | None,
        typer.Option(
            help="Role Personalize assumes to read the CSVs (it must trust personalize.amazonaws.com)."
        ),
    ] = None,
    create_role: Annotated[
        bool,
        typer.Option(
            "--create-role",
            help="Create (or extend) the role toolkit-personalize-s3-read, which reads the buckets.",
        ),
    ] = False,
    set_bucket_policy: Annotated[
        bool,
        typer.Option(
            "--set-bucket-policy",
            help=(
                "Add the statement letting personalize.amazonaws.com read the bucket without asking "
                "(asked on a terminal)."
            ),
        ),
    ] = False,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Add to what the datasets hold (the first import is FULL).")
    ] = False,
    domain: Annotated[
        ImportDomain,
        typer.Option(
            help="Dataset group domain: auto (ECOMMERCE when the CSV was written for it), ecommerce or none."
        ),
    ] = ImportDomain.auto,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Validate, read the account, print the plan and its aws commands; create nothing.",
        ),
    ] = False,
    wait_minutes: Annotated[
        float, typer.Option(min=0, help="Wait at most this long in all for everything to be ACTIVE.")
    ] = 120.0,
    profile: ProfileOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Import the datasets into Amazon Personalize: validate, upload, dataset group, schemas, datasets, jobs.

    Exit 0 when every import job is ACTIVE (or the dry run's plan is made), 1 when a CSV is invalid
    or a job failed."""
    import sys

    from toolkit.importing import import_datasets
    from toolkit.render import import_plan_table, import_status_lines, validation_table

    shown = not (quiet or as_json)

    def confirm(question: str) -> bool:
        return set_bucket_policy or (shown and sys.stdin.isatty() and typer.confirm(question))

    def on_status(what: str, status: str, seconds: float) -> None:
        if shown:
            console.print(
                f"{what}: {status}" + (f" ({seconds / 60:.0f} min)" if seconds >= 60 else ""), soft_wrap=True
            )

    result = import_datasets(
        sources,
        dataset_group=dataset_group,
        bucket=bucket,
        role_arn=role_arn,
        create_role=create_role,
        incremental=incremental,
        domain=domain.value,
        dry_run=dry_run,
        confirm=confirm,
        aws=aws_options(profile, region, endpoint_url),
        wait_seconds=wait_minutes * 60,
        on_status=on_status,
    )
    if as_json:
        print_json(result.as_dict())
    elif shown:
        for report in result.validation:
            if not report.valid:
                console.print(validation_table(report))
        if result.steps:
            console.print(import_plan_table(result))
        for line in import_status_lines(result):
            console.print(line, soft_wrap=True)
    if not result.ok:
        raise typer.Exit(EXIT_INVALID)


# Shown under every command's --help (click keeps a paragraph opened by \b as written).
EXAMPLES = {
    "generate": [
        "toolkit generate --date 2026-11-01 --days 7 --out out",
        "toolkit generate --date 2026-11-01 --days 7 --out s3://BUCKET/ --dry-run",
    ],
    "transform": [
        "toolkit transform out --users users.csv --items items.csv",
        "toolkit transform s3://BUCKET/ --out s3://BUCKET/transformed/",
    ],
    "validate": [
        "toolkit validate interactions.csv --users users.csv --items items.csv",
        "toolkit validate interactions.csv --json | jq '.checks[].id'",
    ],
    "report": ["toolkit report workshop --out report.html", "toolkit report interactions.csv --no-evaluate"],
    "evaluate": ["toolkit evaluate interactions.csv --k 10", "toolkit evaluate interactions.csv --json"],
    "schema": ["toolkit schema users.csv --out users.avsc", "toolkit schema --out -"],
    "explore": [
        "toolkit explore out",
        "toolkit explore out --db logs.duckdb",
        "toolkit explore --db logs.duckdb --file query.sql --format csv --limit 0",
    ],
    "workshop": [
        "toolkit workshop --date 2026-11-01 --days 3",
        "toolkit workshop --date 2026-11-01 --days 7 --bucket BUCKET",
    ],
    "collector": [
        "toolkit collector --write-key web=KEY --out collected",
        "toolkit collector --port 0 --keys-file keys.txt --out s3://BUCKET/",
    ],
    "check": [
        "toolkit --profile workshop check --skip-segment",
        "toolkit check --fix --dry-run",
        "toolkit check --accounts accounts.csv --json",
    ],
    "import": [
        "toolkit import workshop --dataset-group shop --bucket BUCKET",
        "toolkit import workshop --dataset-group shop --bucket BUCKET --dry-run",
    ],
}


def _add_examples() -> None:
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        lines = EXAMPLES.get(name.rstrip("_"), [])
        if lines:
            command.epilog = "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


_add_examples()
