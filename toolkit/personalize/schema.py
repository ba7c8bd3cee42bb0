"""Amazon Personalize's Avro schemas: interactions, users and items datasets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import UsageError
from toolkit.files import read_text_input

NAMESPACE = "com.amazonaws.personalize.schema"
REQUIRED = {"USER_ID": "string", "ITEM_ID": "string", "TIMESTAMP": "long"}
RESERVED = {
    **REQUIRED,
    "EVENT_TYPE": "string",
    "EVENT_VALUE": "float",
    "IMPRESSION": "string",
    "RECOMMENDATION_ID": "string",
}
INTERACTIONS_COLUMNS = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP")


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # string, long, int, float, double, boolean
    nullable: bool = False
    categorical: bool = False
    textual: bool = False  # unstructured text (an Items dataset's PRODUCT_DESCRIPTION)

    def as_avro(self) -> dict:
        field: dict[str, str | list[str] | bool] = {
            "name": self.name,
            "type": ["null", self.type] if self.nullable else self.type,
        }
        if self.categorical:
            field["categorical"] = True
        if self.textual:
            field["textual"] = True
        return field


def interactions_schema(columns: tuple[str, ...] | list[str] = INTERACTIONS_COLUMNS) -> dict:
    """The schema for a CSV with these columns: reserved ones typed as Personalize wants,
    others as categorical string metadata."""
    fields = [
        Field(c, RESERVED[c]) if c in RESERVED else Field(c, "string", nullable=True, categorical=True)
        for c in columns
    ]
    return {
        "type": "record",
        "name": "Interactions",
        "namespace": NAMESPACE,
        "fields": [f.as_avro() for f in fields],
        "version": "1.0",
    }


def schema_json(schema: dict) -> str:
    """A schema as the .avsc text written beside a dataset (and pasted into CreateSchema)."""
    return json.dumps(schema, indent=2) + "\n"


def dataset_schema(name: str, key: str, metadata: list[Field]) -> dict:
    """A Users or Items schema: the key field, then the metadata fields."""
    fields = [Field(key, "string"), *metadata]
    return {
        "type": "record",
        "name": name,
        "namespace": NAMESPACE,
        "fields": [f.as_avro() for f in fields],
        "version": "1.0",
    }


def schema_fields(schema: dict) -> list[Field]:
    """The fields of a parsed Avro schema; a schema Personalize would refuse is a UsageError."""
    if (
        not isinstance(schema, dict)
        or schema.get("type") != "record"
        or not isinstance(schema.get("fields"), list)
    ):
        raise UsageError('schema must be an Avro record: {"type": "record", "name": ..., "fields": [...]}')
    fields = []
    for position, raw in enumerate(schema["fields"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise UsageError(f"schema field {position} must be an object with a name")
        kind = raw.get("type")
        nullable = isinstance(kind, list) and "null" in kind
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            kind = kinds[0] if len(kinds) == 1 else None
        if not isinstance(kind, str):
            raise UsageError(f"schema field {raw['name']!r} has an unsupported type {raw.get('type')!r}")
        fields.append(
            Field(raw["name"], kind, nullable, bool(raw.get("categorical")), bool(raw.get("textual")))
        )
    return fields


MAX_SCHEMA_BYTES = 1 << 20  # a schema names at most a few hundred fields


def load_schema(path: str | Path) -> list[Field]:
    text = read_text_input(path, "schema", MAX_SCHEMA_BYTES)
    try:
        return schema_fields(json.loads(text))
    except json.JSONDecodeError as exc:
        raise UsageError(f"schema file {path} is not JSON: {exc}") from None
    except RecursionError:
        raise UsageError(f"schema file {path} is nested too deeply to be a schema") from None
