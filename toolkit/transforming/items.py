"""Personalize's Items dataset from the product properties of Segment's events (e-commerce spec v2)
and, when given, the store's catalog export (catalog.jsonl, one product object a line): one row per
item id, each field's latest value by timestamp, the catalog's value first.

Flat product fields (Product Viewed, Product Added, ...) and each entry of a `products` array
(Order Completed, Cart Viewed, ...) are read alike. PRICE is numerical; CATEGORY_L1 and
CATEGORY_L2 come from `category` ("Shoes/Boots" or "Shoes > Boots"), categorical like BRAND;
PRODUCT_DESCRIPTION is textual (`description`, else `name`); CREATION_TIMESTAMP is `created_at`
in epoch seconds. A field no product carries is left out; an Items dataset needs at least one.
Every catalog product is a row, interacted with or not (Personalize recommends cold items too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from fsspec.spec import AbstractFileSystem

from toolkit.errors import UsageError
from toolkit.etl.dataset_fields import ITEM_FIELDS, MAX_CATEGORICAL_LENGTH, MAX_TEXTUAL_LENGTH
from toolkit.personalize.schema import Field, dataset_schema, schema_json
from toolkit.personalize.validate import MAX_ID_LENGTH
from toolkit.segment.lines import MAX_LINE_BYTES

CATEGORY_PART = "nullif(trim(regexp_split_to_array(p ->> '$.category', '\\s*(/|>)\\s*')[{}]), '')"
# field -> SQL over a product object p (etl/segment_datasets.py says the same in Spark)
SQL = {
    "PRICE": "TRY_CAST(p ->> '$.price' AS DOUBLE)",
    "CATEGORY_L1": CATEGORY_PART.format(1),
    "CATEGORY_L2": CATEGORY_PART.format(2),
    "BRAND": f"nullif(left(p ->> '$.brand', {MAX_CATEGORICAL_LENGTH}), '')",
    "PRODUCT_DESCRIPTION": (
        f"nullif(left(coalesce(nullif(p ->> '$.description', ''), p ->> '$.name'), {MAX_TEXTUAL_LENGTH}), '')"
    ),
    "CREATION_TIMESTAMP": "CAST(floor(epoch(TRY_CAST(p ->> '$.created_at' AS TIMESTAMPTZ))) AS BIGINT)",
}
TRACK_COLUMNS = "{'type': 'VARCHAR', 'timestamp': 'VARCHAR', 'properties': 'JSON'}"
FIELDS = {
    name: (SQL[name], Field(name, kind, nullable=True, categorical=categorical, textual=textual))
    for name, kind, categorical, textual in ITEM_FIELDS
}


@dataclass
class ItemsDataset:
    items: int = 0
    fields: list[str] = field(default_factory=list)
    from_catalog: int = 0  # items described by the catalog export


def write_items(
    files: Sequence[Path | str],
    out: Path,
    item_field: str,
    catalog: Path | None = None,
    filesystem: AbstractFileSystem | None = None,
) -> ItemsDataset:
    """Write the Items CSV (and its schema beside it, .avsc) from the product properties in `files`
    and the products of `catalog`."""
    connection = duckdb.connect()
    if filesystem is not None:  # files in S3, read as needed
        connection.register_filesystem(filesystem)
    try:
        connection.execute("SET TimeZone = 'UTC'")
        relation = (
            f"read_json($files, format = 'newline_delimited', columns = {TRACK_COLUMNS}, "
            f"ignore_errors = true, maximum_object_size = {MAX_LINE_BYTES})"
        )
        return items_csv(connection, relation, {"files": [str(f) for f in files]}, out, item_field, catalog)
    finally:
        connection.close()


def items_csv(
    connection: duckdb.DuckDBPyConnection,
    messages: str,
    params: dict,
    out: Path,
    item_field: str,
    catalog: Path | None,
) -> ItemsDataset:
    """The Items CSV and schema from `messages`, a relation of (type, timestamp, properties JSON):
    the track calls of log files, or of a warehouse."""
    _load_products(connection, messages, params, catalog)
    item = f"p ->> '$.{item_field}'"
    if (
        catalog is not None
        and not connection.execute(
            f"SELECT count(*) FROM products WHERE from_catalog AND {item} IS NOT NULL"
        ).fetchall()[0][0]
    ):
        raise UsageError(
            f"`catalog` {catalog}: no product has a {item_field!r} field, the item id chosen by `item_field`",
            parameters=("catalog", "item_field"),
        )
    values = ", ".join(
        f"arg_max({sql}, ts) FILTER (WHERE {sql} IS NOT NULL) AS {name}" for name, (sql, _) in FIELDS.items()
    )
    connection.execute(
        f"""CREATE TABLE items AS SELECT {item} AS ITEM_ID, bool_or(from_catalog) AS in_catalog, {values}
        FROM products
        WHERE json_type(p) = 'OBJECT' AND {item} IS NOT NULL AND {item} <> ''
            AND length({item}) <= {MAX_ID_LENGTH}
        GROUP BY 1"""
    )
    present = present_fields(
        {name: connection.execute(f"SELECT count({name}) FROM items").fetchall()[0][0] for name in FIELDS},
        item_field,
    )
    [(items, described)] = connection.execute(
        "SELECT count(*), count(*) FILTER (in_catalog) FROM items"
    ).fetchall()
    target = str(out).replace("'", "''")
    connection.execute(
        f"COPY (SELECT ITEM_ID, {', '.join(present)} FROM items ORDER BY ITEM_ID) TO '{target}' "
        "(FORMAT csv, HEADER true)"
    )
    write_items_schema(out, present)
    return ItemsDataset(items, present, described)


def present_fields(counts: dict[str, int], item_field: str) -> list[str]:
    """The fields some item has a value of; none is a UsageError."""
    present = [name for name in FIELDS if counts[name]]
    if not present:
        raise UsageError(
            f"no product metadata (price, category, brand, name, created_at) beside {item_field} in the "
            "events or a `catalog`: an Items dataset needs at least one field",
            parameters=("catalog",),
        )
    return present


def write_items_schema(out: Path, present: list[str]) -> None:
    out.with_suffix(".avsc").write_text(
        schema_json(dataset_schema("Items", "ITEM_ID", [FIELDS[name][1] for name in present]))
    )


def _load_products(
    connection: duckdb.DuckDBPyConnection, messages: str, params: dict, catalog: Path | None
) -> None:
    """Table products(ts, p, from_catalog): every product object of the events, and the catalog's
    at an infinite timestamp, so that its values come first."""
    connection.execute(
        f"""CREATE TABLE products AS
        WITH messages AS (
            SELECT TRY_CAST("timestamp" AS TIMESTAMPTZ) AS ts, properties
            FROM {messages}
            WHERE type = 'track' AND json_type(properties) = 'OBJECT')
        SELECT ts, properties AS p, false AS from_catalog FROM messages
        UNION ALL
        SELECT ts, unnest(CAST(properties -> '$.products' AS JSON[])) AS p, false FROM messages
        WHERE json_type(properties, '$.products') = 'ARRAY'""",
        params,
    )
    if catalog is None:
        return
    if not catalog.is_file():
        raise UsageError(f"`catalog`: no such file: {catalog}", parameters=("catalog",))
    try:
        connection.execute(
            "INSERT INTO products SELECT 'infinity'::TIMESTAMPTZ, json, true "
            f"FROM read_ndjson_objects($catalog, maximum_object_size = {MAX_LINE_BYTES})",
            {"catalog": str(catalog)},
        )
    except (duckdb.InvalidInputException, duckdb.IOException) as exc:
        raise UsageError(
            f"`catalog` {catalog} is not JSON lines (one product object a line): {str(exc).splitlines()[0]}",
            parameters=("catalog",),
        ) from None
