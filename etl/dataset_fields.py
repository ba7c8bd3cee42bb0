"""Which fields Personalize's Users and Items datasets get, decided alike by both engines (the
DuckDB one in the toolkit and the Spark/Glue job). Plain Python: Glue loads it with
--extra-py-files beside segment_datasets.py, and the toolkit imports it as toolkit.etl.

Users: the data's numerical traits (every value a number) and its categorical ones (text,
booleans or lists) with few distinct values (at most MAX_CATEGORIES, or 5% of the users): names,
emails and addresses are left out, as they carry no signal and are personal data. At most 25
(Personalize's limit). Trait names become valid field names (CAMPAIGN_SOURCE for "Campaign
Source").

Items: the product fields of ITEM_FIELDS that at least one product carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_USER_FIELDS = 25
IDENTITY_TRAITS = ("anonymousId", "userId")  # the ids analytics-android echoes among the traits: not metadata
MAX_CATEGORIES = 50
MAX_CATEGORICAL_LENGTH = 1000
MAX_TEXTUAL_LENGTH = 20_000
# Items fields, in CSV order: (name, Personalize type, categorical, textual)
ITEM_FIELDS = (
    ("PRICE", "float", False, False),
    ("CATEGORY_L1", "string", True, False),
    ("CATEGORY_L2", "string", True, False),
    ("BRAND", "string", True, False),
    ("PRODUCT_DESCRIPTION", "string", False, True),
    ("CREATION_TIMESTAMP", "long", False, False),
)


@dataclass
class UserField:
    trait: str  # as it is in the data
    name: str  # the CSV column and schema field
    categorical: bool


def field_name(trait: str) -> str:
    """A trait's name as a Personalize field: upper case, letters, digits and underscores."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", trait).strip("_").upper() or "TRAIT"
    return f"T_{name}" if name[0].isdigit() else name


def choose_user_fields(
    profile: list[tuple[str, int, bool]], users: int, chosen: list[str] | None
) -> tuple[list[UserField], list[str], list[str]]:
    """From (trait, distinct values, every value a number) sorted by trait: the fields written, the
    traits left out, and the traits asked for (`chosen`) that the data does not hold."""
    fields, names = [], set()
    limit = max(MAX_CATEGORIES, users // 20)
    # in the order of the fields' names, so that traits spelled apart ("App Version" in the logs,
    # app_version in a warehouse) give the same columns in the same order
    for trait, distinct, numeric in sorted(profile, key=lambda found: (field_name(found[0]), found[0])):
        wanted = (
            trait in chosen
            if chosen is not None
            else (trait not in IDENTITY_TRAITS and (numeric or distinct <= limit))
        )
        name = field_name(trait)
        if not wanted or name in names or name == "USER_ID" or len(fields) >= MAX_USER_FIELDS:
            continue
        names.add(name)
        fields.append(UserField(trait, name, not numeric))
    written = {f.trait for f in fields}
    missing = sorted(set(chosen) - written) if chosen is not None else []
    return fields, [trait for trait, _, _ in profile if trait not in written], missing
