"""What a scenario file may hold, checked before it is parsed into a Scenario and before any work:
a bounded size and nesting, finite numbers of sane magnitude, texts Segment would accept (a
message is at most 32 KB), faker providers that make text. A user-written file can then neither
hang the parser, exhaust memory nor crash a run part-way."""

from __future__ import annotations

import math
import re
from typing import Any

from toolkit.errors import UsageError

MAX_SCENARIO_BYTES = 4 << 20
MAX_KEY_PARTS = 32  # a.b.c = ... : parts of a dotted key or table name (the parser is quadratic in them)
MAX_DEPTH = 16  # tables and lists within one another
MAX_TEXT = 4_096  # characters of any one text: names, values, catalog entries
MAX_LIST = 100_000  # items of any one list (catalogs are the longest)
MAX_NUMBER = 1e12  # magnitude of any number
MAX_SHOWN = 60  # characters of a user's value quoted back in an error
MAX_ERROR = 280  # characters of an error line about a scenario
# Faker providers a scenario may name: each makes one short text (a provider such as `binary`,
# `pydecimal` or `profile` makes bytes, decimals or nested objects that are no trait value).
FAKER_PROVIDERS = frozenset(
    {
        "address",
        "building_number",
        "city",
        "color_name",
        "company",
        "company_email",
        "country",
        "country_code",
        "currency_code",
        "domain_name",
        "email",
        "first_name",
        "first_name_female",
        "first_name_male",
        "free_email",
        "hex_color",
        "iban",
        "job",
        "language_code",
        "last_name",
        "license_plate",
        "locale",
        "name",
        "phone_number",
        "postcode",
        "safe_email",
        "state",
        "street_address",
        "street_name",
        "user_agent",
        "user_name",
        "uuid4",
        "word",
        "zipcode",
    }
)

# A table header's name, or a bare dotted key before its "=" (quoted parts are rare and short)
_KEY_LINE = re.compile(r"^[ \t]*(?:\[\[?([^\]\n]*)|([A-Za-z0-9_.\- \t]+)=)", re.MULTILINE)


def shown(value: Any) -> str:
    """A user's value as an error quotes it: its repr, cut to MAX_SHOWN characters."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def clipped(message: str) -> str:
    """An error line cut to MAX_ERROR characters."""
    return message if len(message) <= MAX_ERROR else message[: MAX_ERROR - 1] + "…"


def check_text(text: str, origin: str) -> None:
    """Before parsing: the file's size and the parts of its dotted keys and table names."""
    if len(text) > MAX_SCENARIO_BYTES:
        raise UsageError(f"scenario {origin}: over {MAX_SCENARIO_BYTES >> 20} MB; is it the right file?")
    for match in _KEY_LINE.finditer(text):
        if (match.group(1) or match.group(2) or "").count(".") >= MAX_KEY_PARTS:
            line = text.count("\n", 0, match.start()) + 1
            raise UsageError(f"scenario {origin}, line {line}: a key of over {MAX_KEY_PARTS} dotted parts")


def check_values(raw: dict) -> None:
    """After parsing, before reading: every value of the file within the limits above (walked
    without recursion, so depth alone cannot crash it)."""
    pending: list[tuple[str, Any, int]] = [("", raw, 0)]
    while pending:
        where, value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise UsageError(f"'{where}' is nested over {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if len(key) > MAX_TEXT:
                    raise UsageError(f"a key of '{where or 'the file'}' is over {MAX_TEXT:,} characters")
                pending.append((f"{where}.{key}" if where else key, item, depth + 1))
        elif isinstance(value, list):
            if len(value) > MAX_LIST:
                raise UsageError(f"'{where}' holds over {MAX_LIST:,} items")
            pending.extend((f"{where}[{index}]", item, depth + 1) for index, item in enumerate(value))
        elif isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise UsageError(
                    f"'{where}' is over {MAX_TEXT:,} characters (Segment drops messages over 32 KB)"
                )
        elif (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and (not math.isfinite(value) or abs(value) > MAX_NUMBER)
        ):
            raise UsageError(f"'{where}' must be a finite number up to {MAX_NUMBER:.0e}, not {shown(value)}")


def check_faker_provider(provider: Any, where: str) -> None:
    if provider not in FAKER_PROVIDERS:
        raise UsageError(
            f"'{where}' must be a faker provider that makes a text, such as first_name, email or city;"
            f" not {shown(provider)}"
        )
