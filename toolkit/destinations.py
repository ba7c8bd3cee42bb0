"""Where `generate` and `collector` deliver: an `--out` value turned into a Segment destination by
its scheme.

    FOLDER                      Segment's S3 layout in a local folder
    s3://BUCKET/PREFIX          Segment's S3 layout in a bucket
    kinesis://STREAM            a Kinesis data stream (Segment's Amazon Kinesis destination)
    firehose://STREAM           a Firehose delivery stream (Segment's Amazon Kinesis Firehose)
    postgresql://..., PATH.duckdb   a warehouse (Segment's Postgres/Redshift warehouse)
    personalize-events://TRACKING_ID   Personalize's event tracker

Each scheme is one entry of SCHEMES: a test of the value and the function that opens it, which
imports its module only when used. A value with a scheme no entry knows is refused, never taken
for a folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from toolkit.aws.s3 import AwsOptions, is_s3
from toolkit.errors import UsageError
from toolkit.segment.destination import Destination

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class DestinationOptions:
    """What a destination may need besides its `--out` value."""

    aws: AwsOptions = field(default_factory=AwsOptions)
    source_names: Mapping[str, str] = field(default_factory=dict)  # source id -> name, for {source}
    layout: str = "segment"  # what a folder or s3:// holds: Segment's S3 layout, or "firehose"'s
    # Kinesis
    partition_key: str = "user"  # or "message-id" (Segment's useMessageId)
    stream_per_source: bool = False  # the stream name holds {source}
    create: bool = False  # create missing streams, with `shards` shards
    shards: int = 1
    # Firehose, and the layout it writes to S3
    firehose_map: str | None = None  # Segment's mappedStreams: "Order Completed=orders,*=all"
    firehose_api: str = "record"  # PutRecord (Segment's), or "batch" (PutRecordBatch)
    compression: str = "none"  # or "gzip"
    buffer_mb: float = 5
    buffer_seconds: float = 300
    # Warehouses: a schema per source, named by its slug (source id -> name); a sync every so often
    source_slugs: Mapping[str, str] = field(default_factory=dict)
    sync_minutes: int = 60


@dataclass(frozen=True)
class Scheme:
    label: str  # how the destination is named to a user
    example: str
    matches: Callable[[str], bool]
    open: Callable[[str, DestinationOptions], Destination]


LAYOUTS = ("segment", "firehose")


def _segment_layout(out: str, options: DestinationOptions) -> Destination:
    """Segment's S3 layout, or with layout "firehose" the objects a Firehose stream writes."""
    if options.layout not in LAYOUTS:
        raise UsageError(
            f"`layout` must be segment or firehose, not {options.layout!r}", parameters=("layout",)
        )
    if options.layout == "firehose":
        from toolkit.segment.firehose import FirehoseLayout

        return FirehoseLayout(
            out,
            options.aws,
            firehose_map=options.firehose_map,
            compression=options.compression,
            buffer_mb=options.buffer_mb,
            buffer_seconds=options.buffer_seconds,
        )
    from toolkit.segment.sinks import sink_for

    return sink_for(out, options.aws)


def _kinesis(out: str, options: DestinationOptions) -> Destination:
    from toolkit.segment.kinesis import KinesisDestination

    return KinesisDestination(
        out,
        options.aws,
        source_names=options.source_names,
        partition_key=options.partition_key,
        stream_per_source=options.stream_per_source,
        create=options.create,
        shards=options.shards,
    )


def _firehose(out: str, options: DestinationOptions) -> Destination:
    from toolkit.segment.firehose import FirehoseDestination

    return FirehoseDestination(out, options.aws, firehose_map=options.firehose_map, api=options.firehose_api)


def _warehouse(out: str, options: DestinationOptions) -> Destination:
    """Segment's warehouse destination: Postgres (or Redshift) by URL, or a DuckDB file."""
    from toolkit.segment.warehouse_engines import DuckDBEngine, PostgresEngine, is_postgres_url
    from toolkit.segment.warehouse_load import WarehouseDestination

    engine = PostgresEngine(out) if is_postgres_url(out) else DuckDBEngine(out)
    return WarehouseDestination(engine, schemas=dict(options.source_slugs), sync_minutes=options.sync_minutes)


def _personalize_events(out: str, options: DestinationOptions) -> Destination:
    from toolkit.personalize_events import open_tracker

    return open_tracker(out, options.aws)


def _url(*schemes: str) -> Callable[[str], bool]:
    return lambda out: out.lower().startswith(tuple(f"{scheme}://" for scheme in schemes))


SCHEMES: list[Scheme] = [
    Scheme("S3 layout in a bucket", "s3://BUCKET/PREFIX", is_s3, _segment_layout),
    Scheme("Kinesis data stream", "kinesis://STREAM", _url("kinesis"), _kinesis),
    Scheme("Firehose delivery stream", "firehose://STREAM", _url("firehose"), _firehose),
    Scheme(
        "Postgres warehouse",
        "postgresql://USER@HOST/DATABASE",
        _url("postgresql", "postgres"),
        _warehouse,
    ),
    Scheme(
        "DuckDB warehouse",
        "PATH.duckdb",
        lambda out: out.lower().endswith(".duckdb") and _SCHEME.match(out) is None,
        _warehouse,
    ),
    Scheme(
        "Personalize event tracker",
        "personalize-events://TRACKING_ID",
        _url("personalize-events"),
        _personalize_events,
    ),
]


def scheme_of(out: str) -> Scheme | None:
    """The entry that opens `out`, None for a local folder (Segment's S3 layout); refuses a value
    with a scheme no entry knows."""
    for scheme in SCHEMES:
        if scheme.matches(out):
            return scheme
    found = _SCHEME.match(out)
    if found and not re.match(r"^[A-Za-z]:[\\/]", out):  # a Windows drive is a folder
        known = ", ".join(scheme.example for scheme in SCHEMES)
        raise UsageError(
            f"`out` {out!r}: unknown destination {found.group(1)!r}; give a folder or one of {known}",
            parameters=("out",),
        )
    return None


def is_folder(out: str) -> bool:
    """Whether `out` names a local folder (Segment's S3 layout on this machine)."""
    return scheme_of(out) is None


def open_destination(out: str, options: DestinationOptions | None = None) -> Destination:
    """The destination `out` names (see the module's docstring)."""
    options = options or DestinationOptions()
    scheme = scheme_of(out)
    return _segment_layout(out, options) if scheme is None else scheme.open(out, options)


def open_destinations(outs: Sequence[str], options: DestinationOptions | None = None) -> list[Destination]:
    """Every destination `outs` names, each once; checked before any work (check())."""
    if not outs:
        raise UsageError("`out`: give at least one destination", parameters=("out",))
    opened: list[Destination] = []
    for out in outs:
        destination = open_destination(out, options)
        if any(other.name == destination.name for other in opened):
            raise UsageError(
                f"`out` {out!r} is given twice; every destination is delivered to once", parameters=("out",)
            )
        opened.append(destination)
    for destination in opened:
        destination.check()
    return opened
