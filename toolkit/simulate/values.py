"""How a scenario says where a trait or property value comes from.

`{ choice = [...] }`, `{ catalog = "sku" }`, `{ uniform = [lo, hi], digits = 2 }`,
`{ integer = [lo, hi] }`, `{ faker = "first_name" }` and `{ value = ... }`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol

from faker import Faker

from toolkit.errors import UsageError
from toolkit.segment.ids import derive_seed

FAKER_POOL_SIZE = 256


class FakerPool:
    """Faker's values, made once per process for a run seed and then drawn by index.

    Faker takes 50-200 microseconds a value; a pool of FAKER_POOL_SIZE per provider keeps the
    simulation fast while still giving realistic, seed-dependent names, emails and addresses.
    """

    _pools: dict[tuple[int, str], list] = {}

    def __init__(self, seed: int):
        self.seed = seed

    def draw(self, provider: str, rng: random.Random) -> Any:
        return self.values(provider)[int(rng.random() * FAKER_POOL_SIZE)]


    def values(self, provider: str) -> list:
        pool = self._pools.get((self.seed, provider))
        if pool is None:
            faker = Faker()
            faker.seed_instance(derive_seed(self.seed, "faker", provider))
            pool = self._pools[(self.seed, provider)] = [getattr(faker, provider)() for _ in range(FAKER_POOL_SIZE)]
        return pool


class ValueSpec(Protocol):
    def draw(self, rng: random.Random, faker: FakerPool) -> Any: ...

    def discrete_values(self, faker: FakerPool) -> tuple | list | None:
        """All values it can take, equally likely; None if it is continuous."""


@dataclass(frozen=True)
class Choice:
    options: tuple[Any, ...]

    def draw(self, rng: random.Random, faker: FakerPool) -> Any:
        return self.options[int(rng.random() * len(self.options))]

    def discrete_values(self, faker: FakerPool) -> tuple:
        return self.options


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float
    digits: int

    def draw(self, rng: random.Random, faker: FakerPool) -> float:
        return round(rng.uniform(self.low, self.high), self.digits)

    def discrete_values(self, faker: FakerPool) -> None:
        return None


@dataclass(frozen=True)
class Integer:
    low: int
    high: int

    def draw(self, rng: random.Random, faker: FakerPool) -> int:
        return rng.randint(self.low, self.high)

    def discrete_values(self, faker: FakerPool) -> list | None:
        return list(range(self.low, self.high + 1)) if self.high - self.low < 1000 else None


@dataclass(frozen=True)
class FakerValue:
    provider: str

    def draw(self, rng: random.Random, faker: FakerPool) -> Any:
        return faker.draw(self.provider, rng)

    def discrete_values(self, faker: FakerPool) -> list:
        return faker.values(self.provider)


@dataclass(frozen=True)
class Constant:
    value: Any

    def draw(self, rng: random.Random, faker: FakerPool) -> Any:
        return self.value

    def discrete_values(self, faker: FakerPool) -> tuple:
        return (self.value,)


_FAKER = Faker()


def parse_value_spec(raw: dict, path: str, catalog: dict[str, tuple]) -> ValueSpec:
    """Turn one `{ kind = ... }` table into a ValueSpec; errors name `path`."""
    kinds = [k for k in ("choice", "catalog", "uniform", "integer", "faker", "value") if k in raw]
    if len(kinds) != 1:
        raise UsageError(f"'{path}' must have exactly one of choice, catalog, uniform, integer, faker, value")
    kind = kinds[0]
    extra = set(raw) - {kind, "digits"}
    if extra or ("digits" in raw and kind != "uniform"):
        raise UsageError(f"unknown key '{path}.{sorted(extra or {'digits'})[0]}'")
    arg = raw[kind]
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise UsageError(f"'{path}.choice' must be a non-empty list")
        return Choice(tuple(arg))
    if kind == "catalog":
        if arg not in catalog:
            raise UsageError(f"'{path}.catalog' names no [catalog] list: {arg!r}")
        return Choice(catalog[arg])
    if kind in ("uniform", "integer"):
        number = int if kind == "integer" else (int, float)
        if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(v, number) and not isinstance(v, bool) for v in arg) and arg[0] <= arg[1]):
            raise UsageError(f"'{path}.{kind}' must be [low, high] with low <= high")
        if kind == "integer":
            return Integer(arg[0], arg[1])
        digits = raw.get("digits", 2)
        if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 12:
            raise UsageError(f"'{path}.digits' must be an integer from 0 to 12")
        return Uniform(float(arg[0]), float(arg[1]), digits)
    if kind == "faker":
        if not isinstance(arg, str) or not callable(getattr(_FAKER, arg, None)):
            raise UsageError(f"'{path}.faker' is not a faker provider: {arg!r}")
        return FakerValue(arg)
    return Constant(arg)
