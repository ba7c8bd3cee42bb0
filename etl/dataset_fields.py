"""Which fields Personalize's Users and Items datasets get, decided alike by both engines (the
DuckDB one in the toolkit and the Spark/Glue job). Plain Python: Glue loads it with
--extra-py-files beside segment_datasets.py, and the toolkit imports it as toolkit.etl.

Users: the data's numerical traits (every value a number) and its categorical ones (text,
booleans or lists) with few distinct values (at most MAX_CATEGORIES, or 5% of the users). Personal
data is left out whatever the number of users: traits named as personal data (names, email,
phone, address parts, city, zip, ip, birthday) and traits any of whose values is shaped like an
email address or a phone number (each engine tests the values with PERSONAL_VALUE_PATTERNS).
A trait asked for by name is written whatever it holds. At most 25 (Personalize's limit). Trait
names become valid field names (CAMPAIGN_SOURCE for "Campaign Source").

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


# Trait names that are personal data: whole names (words joined, lower case) and single words
PERSONAL_NAMES = frozenset(
    {
        "name",
        "firstname",
        "lastname",
        "fullname",
        "middlename",
        "givenname",
        "familyname",
        "surname",
        "username",
        "nickname",
        "dob",
        "ssn",
    }
)
PERSONAL_WORDS = frozenset(
    {
        "email",
        "mail",
        "phone",
        "mobile",
        "telephone",
        "address",
        "street",
        "city",
        "zip",
        "zipcode",
        "postcode",
        "postal",
        "ip",
        "birthday",
        "birthdate",
        "birth",
    }
)
# Values shaped like personal data: each shape is (patterns a value matches, patterns it does
# not), anchored, in the syntax both DuckDB (RE2) and Spark (Java) read (no backslash: the two
# engines' SQL strings escape it differently). An email address; a phone number: 7 to 15 digits
# with separators or a leading +, not a bare number (an id) or a date.
PERSONAL_VALUE_SHAPES = (
    (("^[^@ ]+@[^@ ]+[.][A-Za-z]{2,}$",), ()),
    (
        ("^([+]|00)?[0-9(][0-9 ().x-]{5,24}[0-9]$", "^([^0-9]*[0-9]){7,15}[^0-9]*$"),
        ("^[0-9]+$", "^[0-9]{4}-[0-9]{2}-[0-9]{2}"),
    ),
)


def personal_value_sql(text: str, matches: str) -> str:
    """A SQL condition: the text expression `text` is shaped like personal data, `matches` being
    the engine's regular-expression test, "regexp_matches({text}, '{pattern}')" (DuckDB) or
    "{text} RLIKE '{pattern}'" (Spark)."""

    def test(pattern: str) -> str:
        return matches.format(text=text, pattern=pattern)

    shapes = [
        " AND ".join([test(p) for p in wanted] + [f"NOT {test(p)}" for p in unwanted])
        for wanted, unwanted in PERSONAL_VALUE_SHAPES
    ]
    return "(" + " OR ".join(f"({shape})" for shape in shapes) + ")"


def personal_by_name(trait: str) -> bool:
    """Whether a trait's name says it is personal data (firstName, Email Address, billing_city)."""
    words = [word.lower() for word in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", trait)]
    return "".join(words) in PERSONAL_NAMES or any(word in PERSONAL_WORDS for word in words)


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
    profile: list[tuple[str, int, bool, bool]], users: int, chosen: list[str] | None
) -> tuple[list[UserField], list[str], list[str], list[str]]:
    """From (trait, distinct values, every value a number, any value shaped like personal data)
    sorted by trait: the fields written, the traits left out, those of them left out as personal
    data, and the traits asked for (`chosen`) that the data does not hold."""
    fields: list[UserField] = []
    names: set[str] = set()
    personal: list[str] = []
    limit = max(MAX_CATEGORIES, users // 20)
    # in the order of the fields' names, so that traits spelled apart ("App Version" in the logs,
    # app_version in a warehouse) give the same columns in the same order
    for trait, distinct, numeric, personal_values in sorted(
        profile, key=lambda found: (field_name(found[0]), found[0])
    ):
        if chosen is not None:
            wanted = trait in chosen
        elif trait in IDENTITY_TRAITS:
            wanted = False
        elif personal_by_name(trait) or personal_values:
            personal.append(trait)
            wanted = False
        else:
            wanted = numeric or distinct <= limit
        name = field_name(trait)
        if not wanted or name in names or name == "USER_ID" or len(fields) >= MAX_USER_FIELDS:
            continue
        names.add(name)
        fields.append(UserField(trait, name, not numeric))
    written = {f.trait for f in fields}
    missing = sorted(set(chosen) - written) if chosen is not None else []
    return fields, [trait for trait, *_ in profile if trait not in written], personal, missing
