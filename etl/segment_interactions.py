"""The interactions transform in PySpark: one implementation for AWS Glue (glue_etl.py), any Spark
cluster (spark_etl.py) and `toolkit transform --engine spark`.

Same semantics as the toolkit's DuckDB engine: track messages with a userId, an item id (flat
properties.<field> or each products[].<field>) and an event in the chosen set; any ISO-8601
timestamp to epoch seconds (unparseable ones are counted, not guessed); duplicates by messageId
removed, keeping the first received; rows ordered by TIMESTAMP, USER_ID, ITEM_ID, EVENT_TYPE.
Differences: a truncated gzip file is skipped whole (spark.sql.files.ignoreCorruptFiles), and
rejected lines are counted but not listed with their line numbers.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

DEFAULT_EVENT_TYPES = ("Product Added", "Order Completed", "Product Clicked")
MAX_ID_LENGTH = 256
FIELDS = ("messageId", "type", "event", "userId", "timestamp", "receivedAt", "properties")
CORRUPT = "_corrupt_record"
# Every field as text: Spark keeps a nested object's or number's JSON text in a string field.
MESSAGE_SCHEMA = T.StructType([T.StructField(name, T.StringType()) for name in (*FIELDS, CORRUPT)])
PRODUCTS_SCHEMA = T.ArrayType(T.MapType(T.StringType(), T.StringType()))


def configure(spark: SparkSession) -> None:
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    spark.conf.set("spark.sql.files.ignoreCorruptFiles", "true")


def _valid_id(column):
    return (
        column.isNotNull()
        & (F.length(column) > 0)
        & (F.length(column) <= MAX_ID_LENGTH)
        & ~column.rlike("[\\x00-\\x1f]")
    )


def classify(
    spark: SparkSession,
    input_paths: str | list[str],
    event_types=DEFAULT_EVENT_TYPES,
    item_field: str = "sku",
) -> DataFrame:
    """One row a message: `reason` (None when kept; "unparsed" for a line that is not a JSON
    object) and, for kept ones, the interaction fields."""
    paths = [input_paths] if isinstance(input_paths, str) else list(input_paths)
    lines = spark.read.option("recursiveFileLookup", "true").option("pathGlobFilter", "*.gz").text(paths)
    lines = lines.where(F.trim("value") != "")
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    parsed = lines.select(F.from_json("value", MESSAGE_SCHEMA, options).alias("m")).select("m.*")
    scalar_user = F.when(~F.col("userId").rlike(r"^\s*[\[{]"), F.col("userId"))
    stamp = F.expr("try_cast(`timestamp` AS TIMESTAMP)")  # any ISO-8601 form; NULL (counted) if not one
    products = F.from_json(F.get_json_object("properties", "$.products"), PRODUCTS_SCHEMA)
    flat = F.array(F.get_json_object("properties", f"$.{item_field}"))
    items = F.filter(
        F.when(
            F.get_json_object("properties", "$.products").startswith("["),
            F.transform(products, lambda p: p[item_field]),
        ).otherwise(flat),
        _valid_id,
    )
    unparsed = F.col(CORRUPT).isNotNull()
    wanted = F.col("event").isin(list(event_types))
    reason = (
        F.when(unparsed, "unparsed")
        .when(F.col("type").isNull() | (F.col("type") != "track"), "type")
        .when(F.col("event").isNull() | ~wanted, "event type")
        .when(scalar_user.isNull() | (scalar_user == ""), "no user")
        .when(F.size(F.col("item_ids")) == 0, "no item")
        .when(stamp.isNull(), "bad timestamp")
        .when(~_valid_id(scalar_user), "bad id")
    )
    return (
        parsed.withColumn("item_ids", F.when((F.col("type") == "track") & wanted, items))
        .withColumn("reason", reason)
        .select(
            "reason",
            F.col("messageId").alias("message_id"),
            scalar_user.alias("user_id"),
            "event",
            F.floor(stamp.cast("double")).cast("long").alias("ts"),
            F.col("receivedAt").alias("received_at"),
            "item_ids",
        )
    )


def first_copies(classified: DataFrame) -> DataFrame:
    """Kept messages, one per messageId: the first received (messages without an id each count)."""
    kept = classified.where(F.col("reason").isNull()).withColumn(
        "row_key",
        F.coalesce("message_id", F.concat(F.lit("row "), F.monotonically_increasing_id().cast("string"))),
    )
    first = Window.partitionBy("row_key").orderBy(
        F.col("received_at").asc_nulls_last(), "ts", "user_id", "event", F.col("item_ids").cast("string")
    )
    return kept.withColumn("copy", F.row_number().over(first)).where(F.col("copy") == 1)


def interactions(firsts: DataFrame, event_map: dict[str, str] | None = None) -> DataFrame:
    """One row per item of each message kept, ordered as the CSV wants; EVENT_TYPE is the event,
    or its name in `event_map` (a Personalize domain's: Order Completed is Purchase)."""
    event = F.col("event")
    if event_map:
        event = F.coalesce(
            F.create_map(*[F.lit(text) for pair in event_map.items() for text in pair])[event], event
        )
    return firsts.select(
        F.col("user_id").alias("USER_ID"),
        F.explode("item_ids").alias("ITEM_ID"),
        event.alias("EVENT_TYPE"),
        F.col("ts").alias("TIMESTAMP"),
    ).orderBy("TIMESTAMP", "USER_ID", "ITEM_ID", "EVENT_TYPE")


def write_single_csv(rows: DataFrame, folder: str) -> None:
    """One CSV part file with a header in `folder` (Personalize imports every file of a folder)."""
    rows.sparkSession.sparkContext._jsc.hadoopConfiguration().set(
        "mapreduce.fileoutputcommitter.marksuccessfuljobs", "false"
    )
    options = {
        "header": "true",
        "quoteAll": "false",
        "escape": '"',
        "ignoreLeadingWhiteSpace": "false",
        "ignoreTrailingWhiteSpace": "false",
    }  # values as they are, as DuckDB writes them
    rows.coalesce(1).write.mode("overwrite").options(**options).csv(folder)
