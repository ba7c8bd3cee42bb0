"""How a scenario says where a trait or property value comes from.

`{ choice = [...] }` (add `weights = [...]` for unequal chances), `{ catalog = "sku" }`,
`{ uniform = [lo, hi], digits = 2 }`, `{ integer = [lo, hi] }`, `{ faker = "first_name" }` (add
`per_user = true` to make each user's value their own, e.g. emails), `{ ipv4 = "any" }` or
`{ ipv4 = "public" }` (a random address per user or message), `{ value = ... }`, and for traits
only `{ match = "<other trait>", cases = { <its value> = <this value>, ... }, default = { ... } }`
(a value that depends on another trait's).
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
from faker import Faker

from toolkit.errors import UsageError
from toolkit.segment.ids import derive_seed
from toolkit.simulate.draws import below, seed_words, unit, weighted_below
from toolkit.simulate.scenario_limits import check_faker_provider

FAKER_POOL_SIZE = 256
TAG_RANGE = (100_000, 1_000_000)  # a per_user value's six-digit tag


class FakerPool:
    """Faker's values, made once per process for a run seed and then drawn by index.

    Faker takes 50-200 microseconds a value; a pool of FAKER_POOL_SIZE per provider keeps the
    simulation fast while still giving realistic, seed-dependent names, emails and addresses.
    """

    _pools: dict[tuple[int, str], list] = {}
    _derived: dict = {}

    def __init__(self, seed: int):
        self.seed = seed

    def draw(self, provider: str, rng: random.Random) -> Any:
        return self.values(provider)[int(rng.random() * FAKER_POOL_SIZE)]

    def derived(self, key, make):
        """What make() gives from this pool's values, made once per process."""
        full = (self.seed, key)
        if full not in self._derived:
            self._derived[full] = make()
        return self._derived[full]

    def values(self, provider: str) -> list:
        pool = self._pools.get((self.seed, provider))
        if pool is None:
            faker = Faker()
            faker.seed_instance(derive_seed(self.seed, "faker", provider))
            pool = self._pools[(self.seed, provider)] = [
                getattr(faker, provider)() for _ in range(FAKER_POOL_SIZE)
            ]
        return pool


class ValueSpec(Protocol):
    def draw(self, rng: random.Random, faker: FakerPool) -> Any: ...

    def discrete_values(self, faker: FakerPool) -> tuple | list | None:
        """All values it can take; None if it is continuous."""

    def weights(self) -> tuple[float, ...] | None:
        """The relative chances of discrete_values; None if they are equally likely."""

    def json_from_words(self, words: np.ndarray, faker: FakerPool) -> list[str]:
        """One value per 64-bit word, as JSON text (for specs whose discrete_values is None)."""


def json_texts(spec: ValueSpec, words: np.ndarray, faker: FakerPool) -> np.ndarray:
    """One value per 64-bit word as JSON text: discrete specs by index into their values, the
    others by their own formula. The same word always gives the same value."""
    table = _json_table(spec, faker)
    if table is not None:
        return table[weighted_below(words, spec.weights(), len(table))]
    texts = np.empty(len(words), dtype=object)
    texts[:] = spec.json_from_words(words, faker)
    return texts


_JSON_TABLES: dict = {}


def _json_table(spec: ValueSpec, faker: FakerPool) -> np.ndarray | None:
    """A discrete spec's values as JSON texts (None if continuous), made once per process."""
    key = (repr(spec), faker.seed)
    if key not in _JSON_TABLES:
        options = spec.discrete_values(faker)
        _JSON_TABLES[key] = (
            None
            if options is None
            else np.array([orjson.dumps(option).decode() for option in options], dtype=object)
        )
    return _JSON_TABLES[key]


def number_texts(values: list) -> list[str]:
    """JSON texts of numbers, encoded in one call (a number's text holds no comma)."""
    return orjson.dumps(values).decode()[1:-1].split(",") if values else []


def json_objects(fields: Mapping[str, Iterable[str]], rows: int) -> np.ndarray:
    """`rows` JSON objects of fields given as JSON texts (one a row), keys in sorted order."""
    # each row's texts in order, joined once a row
    pieces: list[Iterable[str]] = [itertools.repeat("{", rows)]
    for position, name in enumerate(sorted(fields)):
        pieces += [
            itertools.repeat(("," if position else "") + orjson.dumps(name).decode() + ":"),
            fields[name],
        ]
    text = np.empty(rows, dtype=object)
    # the separators repeat without end: the fields' `rows` texts bound each row
    text[:] = ["".join(row) + "}" for row in zip(*pieces, strict=False)]
    return text


def trait_texts(specs: dict[str, ValueSpec], name: str, seeds: np.ndarray, faker: FakerPool) -> np.ndarray:
    """JSON text of trait `name` for the users with these seeds. The value depends only on the
    user's seed and the trait's name, so a user has it wherever and whenever it is computed
    (their identify, the context.ip of their later messages on another platform)."""
    spec = specs[name]
    if isinstance(spec, Match):
        others = trait_texts(specs, spec.trait, seeds, faker)
        own = json_texts(spec.default, trait_words(name, seeds), faker)
        cases = {orjson.dumps(key).decode(): orjson.dumps(value).decode() for key, value in spec.cases}
        return np.array(
            [cases.get(other, text) for other, text in zip(others, own, strict=True)], dtype=object
        )
    return json_texts(spec, trait_words(name, seeds), faker)


def trait_words(name: str, seeds: np.ndarray) -> np.ndarray:
    """The word each user's value of trait `name` is drawn from."""
    return seed_words(seeds.astype(np.uint64) ^ _trait_salt(name), 1)[0]


@functools.cache
def _trait_salt(name: str) -> np.uint64:
    return np.uint64(derive_seed("trait", name))


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]
    chances: tuple[float, ...] | None = None

    def draw(self, rng: random.Random, faker: FakerPool) -> Any:
        if self.chances is None:
            return self.options[int(rng.random() * len(self.options))]
        return rng.choices(self.options, self.chances)[0]

    def discrete_values(self, faker: FakerPool) -> tuple:
        return self.options

    def weights(self) -> tuple[float, ...] | None:
        return self.chances

    def json_from_words(self, words: np.ndarray, faker: FakerPool) -> list[str]:
        return json_texts(self, words, faker).tolist()


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float
    digits: int

    def draw(self, rng: random.Random, faker: FakerPool) -> float:
        return round(rng.uniform(self.low, self.high), self.digits)

    def discrete_values(self, faker: FakerPool) -> None:
        return None

    def weights(self) -> None:
        return None

    def json_from_words(self, words: np.ndarray, faker: FakerPool) -> list[str]:
        return number_texts(np.round(self.low + unit(words) * (self.high - self.low), self.digits).tolist())


@dataclass(frozen=True)
class Integer:
    low: int
    high: int

    def draw(self, rng: random.Random, faker: FakerPool) -> int:
        return rng.randint(self.low, self.high)

    def discrete_values(self, faker: FakerPool) -> list | None:
        return list(range(self.low, self.high + 1)) if self.high - self.low < 1000 else None

    def weights(self) -> None:
        return None

    def json_from_words(self, words: np.ndarray, faker: FakerPool) -> list[str]:
        return number_texts((self.low + below(words, self.high - self.low + 1)).tolist())


@dataclass(frozen=True)
class FakerValue:
    """A faker provider's value from the run's pool; per_user tags each text value with six
    digits (before the @ of an email) so that users do not share it, as real users do not share
    emails: Segment's identity resolution would merge users who did."""

    provider: str
    per_user: bool = False

    def draw(self, rng: random.Random, faker: FakerPool) -> Any:
        value = faker.draw(self.provider, rng)
        return _tagged(value, rng.randrange(*TAG_RANGE)) if self.per_user else value

    def discrete_values(self, faker: FakerPool) -> list | None:
        return None if self.per_user else faker.values(self.provider)

    def weights(self) -> None:
        return None

    def json_from_words(self, words: np.ndarray, faker: FakerPool) -> list[str]:
        pool = faker.values(self.provider)
        indices = below(words, FAKER_POOL_SIZE).tolist()
        if not faker.derived(
            ("all text", self.provider), lambda: all(isinstance(value, str) for value in pool)
        ):  # values that are not text take no tag
            return [orjson.dumps(pool[index]).decode() for index in indices]
        tags = (TAG_RANGE[0] + below(words >> np.uint64(8), TAG_RANGE[1] - TAG_RANGE[0])).tolist()
        heads, tails = faker.derived(
            ("tag pieces", self.provider),
            lambda: tuple(zip(*(_split_at_tag(orjson.dumps(value).decode()) for value in pool), strict=True)),
        )  # one format a row
        return [f"{heads[index]}{tag}{tails[index]}" for index, tag in zip(indices, tags, strict=True)]


def _split_at_tag(text: str) -> tuple[str, str]:
    """A string's JSON text cut where _tagged puts the tag: before the last @, else before the
    closing quote."""
    cut = text.rfind("@") if "@" in text else len(text) - 1
    return text[:cut], text[cut:]


def _tagged(value: Any, tag: int) -> Any:
    """The value made one's own: the tag goes before an email's @, or at the end of other text."""
    if not isinstance(value, str):
        return value
    local, at, domain = value.rpartition("@")
    return f"{local}{tag}@{domain}" if at else f"{value}{tag}"


@dataclass(frozen=True)
class Constant:
    value: Any

    def draw(self, rng: random.Random, faker: FakerPool) -> Any:
        return self.value

    def discrete_values(self, faker: FakerPool) -> tuple:
        return (self.value,)

    def weights(self) -> None:
        return None

    def json_from_words(self, words: np.ndarray, faker: FakerPool) -> list[str]:
        return json_texts(self, words, faker).tolist()


_PUBLIC_FIRST_OCTETS = (23, 24, 34, 45, 52, 63, 66, 71, 74, 98, 104, 107, 142, 151, 172, 184, 199, 208)


@dataclass(frozen=True)
class IPv4:
    """A random IPv4 address: "any" as the workshop drew them (1 to 2**32 - 1), or "public" (first
    octets of large public allocations, last octet 1-254)."""

    kind: str

    def draw(self, rng: random.Random, faker: FakerPool) -> str:
        return self.json_from_words(np.array([rng.getrandbits(64)], dtype=np.uint64), faker)[0][1:-1]

    def discrete_values(self, faker: FakerPool) -> None:
        return None

    def weights(self) -> None:
        return None

    def json_from_words(self, words: np.ndarray, faker: FakerPool) -> list[str]:
        columns = [octet.tolist() for octet in self.octets(words)]
        return [f'"{a}.{b}.{c}.{d}"' for a, b, c, d in zip(*columns, strict=True)]

    def octets(self, words: np.ndarray) -> list[np.ndarray]:
        """The four octets of each word's address."""
        if self.kind == "any":
            number = 1 + below(words, (1 << 32) - 1)
            return [(number >> shift) & 255 for shift in (24, 16, 8, 0)]
        return [
            np.array(_PUBLIC_FIRST_OCTETS)[below(words, len(_PUBLIC_FIRST_OCTETS))],
            ((words >> np.uint64(8)) & np.uint64(255)).astype(np.int64),
            ((words >> np.uint64(16)) & np.uint64(255)).astype(np.int64),
            1 + below(words >> np.uint64(24), 254),
        ]


@dataclass(frozen=True)
class Match:
    """A trait whose value depends on another trait's: `cases` maps the other trait's value to
    this one's; any other value draws from `default`."""

    trait: str
    cases: tuple[tuple[str, Any], ...]
    default: ValueSpec

    def draw(self, rng: random.Random, faker: FakerPool) -> Any:
        raise TypeError("a match value is computed from another trait (trait_texts), not drawn")

    def discrete_values(self, faker: FakerPool) -> None:
        return None

    def weights(self) -> None:
        return None

    def json_from_words(self, words: np.ndarray, faker: FakerPool) -> list[str]:
        raise TypeError("a match value is computed from another trait (trait_texts), not from words")


_KINDS = ("choice", "catalog", "uniform", "integer", "faker", "ipv4", "value", "match")
_OPTIONS = {
    "uniform": ("digits",),
    "faker": ("per_user",),
    "choice": ("weights",),
    "match": ("cases", "default"),
}  # what each kind takes besides its value


def parse_value_spec(raw: dict, path: str, catalog: dict[str, tuple], is_trait: bool = False) -> ValueSpec:
    """Turn one `{ kind = ... }` table into a ValueSpec; errors name `path`. Only traits may match
    another trait."""
    kinds = [k for k in _KINDS if k in raw and (is_trait or k != "match")]
    if len(kinds) != 1:
        allowed = [k for k in _KINDS if is_trait or k != "match"]
        raise UsageError(f"'{path}' must have exactly one of {', '.join(allowed)}")
    kind = kinds[0]
    extra = set(raw) - {kind, *_OPTIONS.get(kind, ())}
    if extra:
        raise UsageError(f"unknown key '{path}.{sorted(extra)[0]}'")
    arg = raw[kind]
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise UsageError(f"'{path}.choice' must be a non-empty list")
        return Choice(tuple(arg), _weights(raw.get("weights"), len(arg), path))
    if kind == "ipv4":
        if arg not in ("any", "public"):
            raise UsageError(f'\'{path}.ipv4\' must be "any" or "public", not {arg!r}')
        return IPv4(arg)
    if kind == "match":
        return _match(raw, path, catalog)
    if kind == "catalog":
        if arg not in catalog:
            raise UsageError(f"'{path}.catalog' names no [catalog] list: {arg!r}")
        return Choice(catalog[arg])
    if kind in ("uniform", "integer"):
        number = int if kind == "integer" else (int, float)
        if not (
            isinstance(arg, list)
            and len(arg) == 2
            and all(isinstance(v, number) and not isinstance(v, bool) for v in arg)
            and arg[0] <= arg[1]
        ):
            raise UsageError(f"'{path}.{kind}' must be [low, high] with low <= high")
        if kind == "integer":
            return Integer(arg[0], arg[1])
        digits = raw.get("digits", 2)
        if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 12:
            raise UsageError(f"'{path}.digits' must be an integer from 0 to 12")
        return Uniform(float(arg[0]), float(arg[1]), digits)
    if kind == "faker":
        check_faker_provider(arg, f"{path}.faker")
        if not isinstance(raw.get("per_user", False), bool):
            raise UsageError(f"'{path}.per_user' must be true or false")
        return FakerValue(arg, raw.get("per_user", False))
    return Constant(arg)


def _weights(raw: Any, count: int, path: str) -> tuple[float, ...] | None:
    if raw is None:
        return None
    if not (
        isinstance(raw, list)
        and len(raw) == count
        and all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in raw)
        and sum(raw) > 0
    ):
        raise UsageError(f"'{path}.weights' must be {count} numbers >= 0 (one per choice), not all 0")
    return tuple(float(w) for w in raw)


def _match(raw: dict, path: str, catalog: dict[str, tuple]) -> Match:
    if not isinstance(raw["match"], str):
        raise UsageError(f"'{path}.match' must name another trait")
    cases = raw.get("cases", {})
    if not isinstance(cases, dict):
        raise UsageError(
            f"'{path}.cases' must be a table: {{ <other trait's value> = <this trait's value> }}"
        )
    if not isinstance(raw.get("default"), dict):
        raise UsageError(f"'{path}.default' must be a value table, e.g. {{ choice = [...] }}")
    return Match(
        raw["match"], tuple(cases.items()), parse_value_spec(raw["default"], f"{path}.default", catalog)
    )
