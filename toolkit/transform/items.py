"""Personalize's Items dataset from the product properties of Segment's events (e-commerce spec v2):
one row per item id, each field's latest value by timestamp.

Flat product fields (Product Viewed, Product Added, ...) and each entry of a `products` array
(Order Completed, Cart Viewed, ...) are read alike. PRICE is numerical; CATEGORY_L1 and
CATEGORY_L2 come from `category` ("Shoes/Boots" or "Shoes > Boots"), categorical like BRAND;
PRODUCT_NAME is text. A field no product carries is left out; an Items dataset needs at least one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from toolkit.errors import UsageError
from toolkit.personalize.schema import dataset_schema, schema_json
from toolkit.transform.duckdb_engine import MAX_ID_LENGTH, MAX_LINE_BYTES

# field -> (SQL over a product object p, Personalize type, categorical)
FIELDS = {
    "PRICE": ("TRY_CAST(p ->> '$.price' AS DOUBLE)", "float", False),
    "CATEGORY_L1": ("nullif(trim(regexp_split_to_array(p ->> '$.category', '\\s*(/|>)\\s*')[1]), '')", "string", True),
    "CATEGORY_L2": ("nullif(trim(regexp_split_to_array(p ->> '$.category', '\\s*(/|>)\\s*')[2]), '')", "string", True),
    "BRAND": ("nullif(p ->> '$.brand', '')", "string", True),
    "PRODUCT_NAME": ("nullif(left(p ->> '$.name', 1000), '')", "string", False),
}


@dataclass
class ItemsDataset:
    items: int = 0
    fields: list[str] = field(default_factory=list)


def write_items(files: list[Path], out: Path, item_field: str) -> ItemsDataset:
    """Write the Items CSV (and its schema beside it, .avsc) from the product properties in `files`."""
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        values = ", ".join(f"arg_max({sql}, ts) FILTER (WHERE {sql} IS NOT NULL) AS {name}" for name, (sql, _, _) in FIELDS.items())
        connection.execute(
            f"""CREATE TABLE items AS
            WITH messages AS (
                SELECT TRY_CAST("timestamp" AS TIMESTAMPTZ) AS ts, properties
                FROM read_json($files, format = 'newline_delimited', columns = {{'type': 'VARCHAR', 'timestamp': 'VARCHAR', 'properties': 'JSON'}},
                               ignore_errors = true, maximum_object_size = {MAX_LINE_BYTES})
                WHERE type = 'track' AND json_type(properties) = 'OBJECT'),
            products AS (
                SELECT ts, properties AS p FROM messages
                UNION ALL
                SELECT ts, unnest(CAST(properties -> '$.products' AS JSON[])) AS p FROM messages WHERE json_type(properties, '$.products') = 'ARRAY')
            SELECT p ->> '$.{item_field}' AS ITEM_ID, {values}
            FROM products WHERE json_type(p) = 'OBJECT' AND p ->> '$.{item_field}' IS NOT NULL
                AND p ->> '$.{item_field}' <> '' AND length(p ->> '$.{item_field}') <= {MAX_ID_LENGTH}
            GROUP BY 1""",
            {"files": [str(f) for f in files]},
        )
        present = [name for name in FIELDS if connection.execute(f"SELECT count({name}) FROM items").fetchone()[0]]
        if not present:
            raise UsageError(f"no product metadata (price, category, brand, name) beside {item_field} in the events: an Items dataset needs at least one field")
        result = ItemsDataset(connection.execute("SELECT count(*) FROM items").fetchone()[0], present)
        connection.execute(f"COPY (SELECT ITEM_ID, {', '.join(present)} FROM items ORDER BY ITEM_ID) TO '{str(out).replace(chr(39), chr(39) * 2)}' (FORMAT csv, HEADER true)")
    finally:
        connection.close()
    schema = dataset_schema("Items", "ITEM_ID", [(name, FIELDS[name][1], FIELDS[name][2]) for name in present])
    out.with_suffix(".avsc").write_text(schema_json(schema))
    return result
