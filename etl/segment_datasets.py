"""Personalize's Users and Items datasets in PySpark, the same rows as the toolkit's DuckDB engine
(toolkit/transforming/users.py and items.py) writes; fields chosen by dataset_fields.py, shared by both.

Users: from identify calls with a scalar userId and a traits object, each trait's latest non-null
value by timestamp; lists joined with "|". Items: from every track's product properties (flat, and
each products[] entry) and the catalog export's products, which come first; each field's latest
non-null value.
"""

from __future__ import annotations

import json

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

if __package__:  # toolkit.etl, in the toolkit
    from .dataset_fields import (
        ITEM_FIELDS,
        MAX_CATEGORICAL_LENGTH,
        MAX_TEXTUAL_LENGTH,
        UserField,
        choose_user_fields,
        personal_value_sql,
    )
else:  # beside this file, for spark-submit and Glue (--py-files, --extra-py-files)
    from dataset_fields import (  # type: ignore[no-redef]  # the same module, imported by its file name
        ITEM_FIELDS,
        MAX_CATEGORICAL_LENGTH,
        MAX_TEXTUAL_LENGTH,
        UserField,
        choose_user_fields,
        personal_value_sql,
    )

MAX_ID_LENGTH = 256
IDENTIFY_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in ("type", "userId", "timestamp", "traits")]
)
TRACK_SCHEMA = T.StructType(
    [T.StructField(name, T.StringType()) for name in ("type", "timestamp", "properties")]
)
PRODUCT = T.MapType(T.StringType(), T.StringType())
TRAIT = T.StructType(
    [
        T.StructField("key", T.StringType()),
        T.StructField("text", T.StringType()),
        T.StructField("value", T.StringType()),
        T.StructField("numeric", T.BooleanType()),
    ]
)


def _lines(spark: SparkSession, paths: str | list[str], schema: T.StructType) -> DataFrame:
    paths = [paths] if isinstance(paths, str) else list(paths)
    lines = spark.read.option("recursiveFileLookup", "true").option("pathGlobFilter", "*.gz").text(paths)
    return lines.select(F.from_json("value", schema, {"mode": "PERMISSIVE"}).alias("m")).select("m.*")


def _text(value) -> str:
    """A JSON value as text, as DuckDB casts it: strings bare, others as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@F.udf(T.ArrayType(TRAIT))
def _traits(traits):  # no type hints: Spark would take them for a pandas UDF's
    """Each non-null trait: its CSV text, its JSON (for counting distinct values), whether it is a number."""
    try:
        parsed = json.loads(traits) if traits else None
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    found = []
    for key, value in parsed.items():
        if value is None:
            continue
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(value, list):
            text = "|".join(_text(element) for element in value if element is not None)[
                :MAX_CATEGORICAL_LENGTH
            ]
        else:
            text = value[:MAX_CATEGORICAL_LENGTH] if isinstance(value, str) else _text(value)
        found.append((key, text, json.dumps(value, separators=(",", ":"), ensure_ascii=False), numeric))
    return found


def latest_traits(spark: SparkSession, paths: str | list[str]) -> DataFrame:
    """(user_id, key, text, value, numeric): each user's latest non-null value of each trait."""
    messages = _lines(spark, paths, IDENTIFY_SCHEMA).where(
        (F.col("type") == "identify") & ~F.col("userId").rlike(r"^\s*[\[{]")
    )
    traits = messages.select(
        F.col("userId").alias("user_id"),
        F.expr("try_cast(`timestamp` AS TIMESTAMP)").alias("ts"),
        F.explode(_traits("traits")).alias("t"),
    ).where((F.length("user_id") > 0) & (F.length("user_id") <= MAX_ID_LENGTH))
    latest = F.max_by(F.struct("t.text", "t.value", "t.numeric"), "ts")
    return (
        traits.groupBy("user_id", F.col("t.key").alias("key"))
        .agg(latest.alias("v"))
        .select("user_id", "key", "v.text", "v.value", "v.numeric")
    )


def trait_profile(latest: DataFrame) -> tuple[int, list[tuple[str, int, bool, bool]]]:
    """How many users, and (trait, distinct values, every value a number, any value shaped like
    personal data) by trait."""
    users = latest.select("user_id").distinct().count()
    shaped = personal_value_sql("text", "{text} RLIKE '{pattern}'")
    personal = F.expr(f"value LIKE '\"%' AND {shaped}")  # a JSON string: text is the string
    rows = (
        latest.groupBy("key")
        .agg(
            F.countDistinct("value").alias("distinct"),
            F.bool_and("numeric").alias("numeric"),
            F.coalesce(F.bool_or(personal), F.lit(False)).alias("personal"),
        )
        .orderBy("key")
        .collect()
    )
    return users, [(row["key"], row["distinct"], row["numeric"], row["personal"]) for row in rows]


def users_rows(latest: DataFrame, fields: list[UserField]) -> DataFrame:
    """One row per user: USER_ID and each chosen trait's text, ordered by USER_ID."""
    columns = [F.max(F.when(F.col("key") == f.trait, F.col("text"))).alias(f.name) for f in fields]
    return latest.groupBy(F.col("user_id").alias("USER_ID")).agg(*columns).orderBy("USER_ID")


def _product_values(p: Column) -> tuple[dict[str, Column], Column]:
    """Each Items field over a product map p, as toolkit/transforming/items.py computes it, and the
    category split into its parts."""
    category = F.split(p["category"], r"\s*(/|>)\s*")

    def part(index: int):
        return F.nullif(F.trim(F.expr(f"try_element_at(category_parts, {index})")), F.lit(""))

    stamp = F.expr("try_cast(p['created_at'] AS TIMESTAMP)")
    description = F.coalesce(F.nullif(p["description"], F.lit("")), p["name"])
    return {
        "PRICE": F.expr("try_cast(p['price'] AS DOUBLE)"),
        "CATEGORY_L1": part(1),
        "CATEGORY_L2": part(2),
        "BRAND": F.nullif(F.substring(p["brand"], 1, MAX_CATEGORICAL_LENGTH), F.lit("")),
        "PRODUCT_DESCRIPTION": F.nullif(F.substring(description, 1, MAX_TEXTUAL_LENGTH), F.lit("")),
        "CREATION_TIMESTAMP": F.floor(F.unix_micros(stamp) / 1_000_000).cast("long"),
    }, category


def products(spark: SparkSession, paths: str | list[str], catalog: str | None = None) -> DataFrame:
    """(ts, p, from_catalog): every product map of the tracks (flat properties and products[]
    entries), and the catalog's."""
    tracks = _lines(spark, paths, TRACK_SCHEMA).where(
        (F.col("type") == "track") & F.col("properties").startswith("{")
    )
    tracks = tracks.select(F.expr("try_cast(`timestamp` AS TIMESTAMP)").alias("ts"), "properties")
    flat = tracks.select("ts", F.from_json("properties", PRODUCT).alias("p"))
    listed = F.from_json(F.get_json_object("properties", "$.products"), T.ArrayType(PRODUCT))
    entries = tracks.where(F.get_json_object("properties", "$.products").startswith("[")).select(
        "ts", F.explode(listed).alias("p")
    )
    found = flat.unionByName(entries).withColumn("from_catalog", F.lit(False))
    if catalog:
        export = spark.read.text(catalog).select(
            F.lit(None).cast("timestamp").alias("ts"),
            F.from_json("value", PRODUCT).alias("p"),
            F.lit(True).alias("from_catalog"),
        )
        found = found.unionByName(export)
    return found


def item_rows(found: DataFrame, item_field: str) -> DataFrame:
    """One row per item id: ITEM_ID, in_catalog and every Items field, each the latest non-null
    value (the catalog's first), ordered by ITEM_ID."""
    item = F.col("p")[item_field]
    values, category = _product_values(F.col("p"))
    first = F.lit(1).alias("catalog"), F.lit(None).cast("timestamp").alias("ts")
    order = F.when(F.col("from_catalog"), F.struct(*first)).when(
        F.col("ts").isNotNull(), F.struct(F.lit(0).alias("catalog"), F.col("ts").alias("ts"))
    )
    rows = found.where(
        item.isNotNull() & (F.length(item) > 0) & (F.length(item) <= MAX_ID_LENGTH)
    ).withColumn("category_parts", category)
    latest = [
        F.max_by(values[name], F.when(values[name].isNotNull(), order)).alias(name)
        for name, *_ in ITEM_FIELDS
    ]
    return (
        rows.groupBy(item.alias("ITEM_ID"))
        .agg(F.bool_or("from_catalog").alias("in_catalog"), *latest)
        .orderBy("ITEM_ID")
    )


def item_counts(rows: DataFrame) -> dict[str, int]:
    """How many items, how many the catalog describes, and how many have each field."""
    counts = [
        F.count("*").alias("items"),
        F.count_if("in_catalog").alias("in_catalog"),
        *[F.count(name).alias(name) for name, *_ in ITEM_FIELDS],
    ]
    [totals] = rows.agg(*counts).collect()  # an aggregate without groups: one row
    return totals.asDict()


def write_datasets(
    spark: SparkSession,
    paths,
    users_folder: str | None,
    items_folder: str | None,
    item_field: str = "sku",
    catalog: str | None = None,
) -> None:
    """For spark_etl.py and glue_etl.py: the Users and Items datasets, each one CSV part file in
    its folder, their fields printed (the toolkit's `transform --engine spark` also writes schemas)."""
    if __package__:
        from .segment_interactions import write_single_csv
    else:
        from segment_interactions import write_single_csv  # type: ignore[no-redef]  # the same, by file name

    if users_folder:
        latest = latest_traits(spark, paths).cache()
        users, profile = trait_profile(latest)
        fields, left_out, personal, _ = choose_user_fields(profile, users, None)
        write_single_csv(users_rows(latest, fields), users_folder)
        print(
            f"users: {users}, fields: {', '.join(f.name for f in fields)};"
            f" left out: {', '.join(left_out) or 'none'}"
            + (f"; left out as personal data: {', '.join(personal)}" if personal else "")
        )
    if items_folder:
        rows = item_rows(products(spark, paths, catalog), item_field).cache()
        counts = item_counts(rows)
        present = [name for name, *_ in ITEM_FIELDS if counts[name]]
        write_single_csv(rows.select("ITEM_ID", *present), items_folder)
        print(
            f"items: {counts['items']} ({counts['in_catalog']} in the catalog), fields: {', '.join(present)}"
        )
