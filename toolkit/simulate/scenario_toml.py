"""Scenario files (TOML) read into the scenario model (`toolkit.simulate.scenario`), validated:
any problem is reported as a UsageError naming the key and what is wrong with it."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.files import read_text_input
from toolkit.segment.libraries import LIBRARIES
from toolkit.simulate.scenario import (
    AUDIENCES,
    MODES,
    OPTIONAL_ROLES,
    RETURNING,
    ROLES,
    Delivery,
    Journey,
    Rhythm,
    Scenario,
    SessionShape,
    Source,
    Step,
)
from toolkit.simulate.scenario_limits import (
    MAX_SCENARIO_BYTES,
    check_text,
    check_values,
    clipped,
    shown,
)
from toolkit.simulate.store import Category, Personas, Store, StoreSpec, Totals, build_store
from toolkit.simulate.values import Match, ValueSpec, parse_value_spec


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario: a file path, a bundled scenario's name (e.g. "workshop"), or None for the workshop."""
    text, origin = _scenario_text(path)
    check_text(text, origin)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(clipped(f"scenario {origin}: not valid TOML: {exc}")) from None
    except RecursionError:
        raise UsageError(f"scenario {origin}: nested too deeply to be a scenario") from None
    try:
        check_values(raw)
        return _parse(raw)
    except UsageError as exc:
        raise UsageError(clipped(f"scenario {origin}: {exc}")) from None


def _scenario_text(path: str | Path | None) -> tuple[str, str]:
    name = "workshop" if path is None else str(path)
    bundled = resources.files("toolkit.scenarios").joinpath(f"{name}.toml")
    if "/" not in name and not name.endswith(".toml") and bundled.is_file():
        return bundled.read_text(encoding="utf-8"), name
    if not Path(name).exists():
        import difflib

        bundled_names = sorted(
            entry.name.removesuffix(".toml")
            for entry in resources.files("toolkit.scenarios").iterdir()
            if entry.name.endswith(".toml")
        )
        close = difflib.get_close_matches(name, bundled_names, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"bundled: {', '.join(bundled_names)}"
        raise UsageError(f"scenario file not found: {clipped(name)} ({hint}; or give a .toml path)")
    return read_text_input(name, "scenario", MAX_SCENARIO_BYTES), name


class _Table:
    """A TOML table that remembers its key path, so errors can name the key."""

    def __init__(self, raw: Any, path: str):
        if not isinstance(raw, dict):
            raise UsageError(f"[{path}] must be a table")
        self.raw, self.path = raw, path
        self.used: set[str] = set()

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., check=None) -> Any:
        self.used.add(key)
        where = f"{self.path}.{key}" if self.path else key
        if key not in self.raw:
            if default is ...:
                raise UsageError(f"missing key '{where}'")
            return default
        value = self.raw[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise UsageError(f"'{where}' must be {_kind_name(kind)}, not {shown(value)}")
        if not isinstance(value, kind):
            raise UsageError(f"'{where}' must be {_kind_name(kind)}, not {shown(value)}")
        if check is not None:
            problem = check(value)
            if problem:
                raise UsageError(f"'{where}' {problem}, not {shown(value)}")
        return value

    def table(self, key: str, default: Any = ...) -> _Table:
        where = f"{self.path}.{key}" if self.path else key
        return _Table(self.get(key, dict, default), where)

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            where = f"{self.path}.{unknown[0]}" if self.path else unknown[0]
            raise UsageError(f"unknown key '{where}'")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        dict: "a table",
        list: "a list",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _probability(value: float) -> str | None:
    return None if 0.0 <= value <= 1.0 else "must be between 0 and 1"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be positive"


MAX_VISITORS = 1_000_000  # new visitors per platform per day (about 10M messages a day)
MAX_SECONDS = 31_536_000  # a gap or delay of a year at most


def _visitors(value: int) -> str | None:
    return None if 1 <= value <= MAX_VISITORS else f"must be 1 to {MAX_VISITORS:,}"


def _one_of(choices: tuple[str, ...]):
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def _range(kind: type[int] | tuple[type[int], type[float]]):
    def check(value: list) -> str | None:
        if (
            len(value) == 2
            and all(isinstance(v, kind) and not isinstance(v, bool) and 0 <= v <= MAX_SECONDS for v in value)
            and value[0] <= value[1]
        ):
            return None
        return f"must be [low, high], two numbers from 0 to {MAX_SECONDS:,}, low first"

    return check


def _number_range(table: _Table, key: str, default: list | None = None) -> tuple[float, float]:
    """A [low, high] pair of numbers from 0 up (see _range), as floats."""
    low, high = table.get(key, list, ... if default is None else default, check=_range((int, float)))
    return float(low), float(high)


def _delivery(table: _Table) -> Delivery:
    """[delivery]: duplicate deliveries and offline queues (see Delivery)."""
    delivery = Delivery(
        duplicate_chance=float(table.get("duplicate_chance", (int, float), 0.0, check=_probability)),
        retry_seconds=tuple(table.get("retry_seconds", list, [5, 600], check=_range(int))),
        offline_chance=float(table.get("offline_chance", (int, float), 0.0, check=_probability)),
        offline_hours=_number_range(table, "offline_hours", [1, 48]),
    )
    table.finish()
    return delivery


def _products(table: _Table, catalog: dict[str, tuple]) -> tuple[dict[str, Any], ...]:
    """[products]: the catalog export, `columns` naming each row's values; its `key` column holds
    exactly the values of the [catalog] list of that name, so every product drawn is described."""
    if not table.raw:
        return ()
    key = table.get("key", str, check=lambda v: None if v in catalog else "must name a [catalog] list")
    columns = table.get(
        "columns",
        list,
        check=lambda v: (
            None
            if key in v and all(isinstance(c, str) for c in v) and len(set(v)) == len(v)
            else f"must be distinct names, {key!r} among them"
        ),
    )
    rows = table.get("rows", list)
    products = []
    for number, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise UsageError(
                f"'products.rows[{number}]' must be a list of {len(columns)} values ({', '.join(columns)})"
            )
        products.append(dict(zip(columns, row, strict=True)))
    table.finish()
    described = [product[key] for product in products]
    if sorted(map(str, described)) != sorted(map(str, catalog[key])):
        missing = sorted(set(map(str, catalog[key])) - set(map(str, described)))
        raise UsageError(
            f"'products.rows' must describe each value of [catalog] {key} once"
            + (f"; missing: {', '.join(missing[:5])}" if missing else "")
        )
    return tuple(products)


def _parse(raw: dict) -> Scenario:
    root = _Table(raw, "")
    head = root.table("scenario")
    catalog_table = root.table("catalog", {})
    catalog = {}
    for key in catalog_table.raw:
        values = catalog_table.get(key, list, check=lambda v: None if v else "must not be empty")
        catalog[key] = tuple(values)
    catalog_table.finish()
    store = _store(root.table("store", {}))
    products = tuple(store.rows()) if store is not None else _products(root.table("products", {}), catalog)
    if store is not None and "products" in root.raw:
        raise UsageError("[products] and [store] both describe the catalog: keep one")
    traits = _traits(root.table("traits", {}), catalog)
    sources = _sources(root.table("sources"), catalog)
    journeys = _journeys(root.table("journeys"), sources, catalog)
    platform_keys = [key for key, source in sources.items() if source.platform]
    scenario = Scenario(
        name=head.get("name", str),
        description=head.get("description", str, ""),
        new_visitors_per_day=head.get("new_visitors_per_day", int, check=_visitors),
        day_start_seconds=_clock(head, "day_start"),
        arrival_seconds=int(
            head.get(
                "arrival_hours", (int, float), 12, check=lambda v: None if v >= 0 else "must be 0 or more"
            )
            * 3600
        ),
        retention=float(head.get("retention", (int, float), check=_probability)),
        user_id_digits=head.get(
            "user_id_digits", int, 10, check=lambda v: None if 4 <= v <= 18 else "must be 4 to 18"
        ),
        sources=sources,
        catalog=catalog,
        journeys=journeys,
        traits=traits,
        returning=head.get("returning", str, "later_days", check=_one_of(RETURNING)),
        passes=tuple(head.get("passes", list, platform_keys, check=_passes(platform_keys))),
        context_ip=head.get(
            "context_ip", str, None, check=lambda v: None if v in traits else "must name a trait of [traits]"
        ),
        products=products,
        delivery=_delivery(root.table("delivery", {})),
        store=store,
        personas=_personas(root.table("personas", {})),
        rhythm=_rhythm(root.table("time", {})),
        visit_chance=float(head.get("visit_chance", (int, float), 1.0, check=_probability)),
        **_transform(root.table("transform", {})),
    )
    head.finish()
    root.finish()
    if not scenario.platforms:
        raise UsageError("no source has 'platform = true': visitors need somewhere to arrive")
    for key in platform_keys:
        _check_matches(scenario.traits_of(key), key)
    if scenario.rhythm is not None and {"day_start", "arrival_hours"} & set(head.raw):
        raise UsageError(
            "[time] times each user's day by its day curve: leave out scenario.day_start and "
            "scenario.arrival_hours"
        )
    if scenario.store is None and any(j.mode == "session" for j in journeys.values()):
        raise UsageError("session journeys shop in a [store]: add one")
    return scenario


def _passes(platforms: list[str]):
    def check(value: list) -> str | None:
        if sorted(map(str, value)) == sorted(platforms) and len(set(value)) == len(value):
            return None
        return f"must list each platform source once ({', '.join(platforms)})"

    return check


def _check_matches(specs: dict[str, ValueSpec], platform: str) -> None:
    for name, spec in specs.items():
        if isinstance(spec, Match) and (spec.trait not in specs or isinstance(specs[spec.trait], Match)):
            raise UsageError(
                f"'traits.{name}.match' must name another trait that is not a match (on the {platform} "
                f"source: {spec.trait!r})"
            )


def _clock(table: _Table, key: str) -> int:
    text = table.get(key, str, "09:00")
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        if not (0 <= hours < 24 and 0 <= minutes < 60):
            raise ValueError
    except ValueError:
        raise UsageError(f"'{table.path}.{key}' must be a UTC time HH:MM, not {text!r}") from None
    return hours * 3600 + minutes * 60


def _traits(table: _Table, catalog: dict, is_trait: bool = True) -> dict[str, ValueSpec]:
    specs = {}
    for name in table.raw:
        specs[name] = parse_value_spec(
            table.get(name, dict), f"{table.path}.{name}", catalog, is_trait=is_trait
        )
    table.finish()
    return specs


def _sources(table: _Table, catalog: dict) -> dict[str, Source]:
    sources = {}
    for key in table.raw:
        source = table.table(key)
        sources[key] = Source(
            key=key,
            name=source.get("name", str),
            id=source.get("id", str, check=_source_id),
            library=source.get("library", str, check=_one_of(tuple(LIBRARIES))),
            platform=source.get("platform", bool, False),
            traits=_traits(source.table("traits", {}), catalog),
            properties=_traits(source.table("properties", {}), catalog, is_trait=False),
            page_property=source.get("page_property", str, None),
        )
        source.finish()
    table.finish()
    if not sources:
        raise UsageError("[sources] must name at least one source")
    by_id: dict[str, str] = {}
    for key, made in sources.items():
        if made.id in by_id:
            raise UsageError(
                f"'sources.{key}.id' is also sources.{by_id[made.id]}'s: each source has its own"
            )
        by_id[made.id] = key
    return sources


def _source_id(value: str) -> str | None:
    if value.isascii() and value.isalnum() and len(value) in (10, 22):
        return None
    return "must be 10 or 22 ASCII letters and digits, as Segment's source ids are"


def _journeys(table: _Table, sources: dict[str, Source], catalog: dict) -> dict[str, Journey]:
    journeys = {}
    for name in table.raw:
        journey = table.table(name)
        mode = journey.get("mode", str, "funnel", check=_one_of(MODES))
        gap = journey.get("gap_seconds", list, check=_gap)
        identify_gap = journey.get("identify_gap_seconds", list, None, check=_gap)
        audience = journey.get("audience", str, check=_one_of(AUDIENCES))
        raw_steps = journey.get("steps", list, check=lambda v: None if v else "must not be empty")
        if mode == "session":
            steps = _session_steps(raw_steps, f"{journey.path}.steps")
        else:
            steps = tuple(_step(s, f"{journey.path}.steps[{i}]", catalog) for i, s in enumerate(raw_steps))
        journeys[name] = Journey(
            name=name,
            audience=audience,
            mode=mode,
            steps=steps,
            gap_seconds=(float(gap[0]), float(gap[1])),
            continue_base=float(journey.get("continue_base", (int, float), 1.0, check=_probability)),
            continue_per_step=float(journey.get("continue_per_step", (int, float), 0.0)),
            start_chance=float(journey.get("start_chance", (int, float), 1.0, check=_probability)),
            identify_on_complete=journey.get("identify_on_complete", bool, False),
            identify_chance=float(journey.get("identify_chance", (int, float), 1.0, check=_probability)),
            identify_gap_seconds=None
            if identify_gap is None
            else (float(identify_gap[0]), float(identify_gap[1])),
            user_id=journey.get("user_id", bool, audience != "new_visitors"),
            then=journey.get("then", str, None),
            source=journey.get(
                "source",
                str,
                None,
                check=lambda v: (
                    None if v in sources else f"must be one of the [sources]: {', '.join(sources)}"
                ),
            ),
            session=_session_shape(journey.table("session", {})) if mode == "session" else None,
        )
        journey.finish()
    table.finish()
    for j in journeys.values():
        if j.then is not None and journeys.get(j.then) is None:
            raise UsageError(f"'journeys.{j.name}.then' names no journey: {j.then!r}")
        if j.then is not None and journeys[j.then].audience != "triggered":
            raise UsageError(
                f"'journeys.{j.then}.audience' must be \"triggered\" since journeys.{j.name} starts it"
            )
    return journeys


def _gap(value: list) -> str | None:
    if (
        len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and 0 <= value[0] <= value[1] <= MAX_SECONDS
    ):
        return None
    return f"must be [low, high] seconds with 0 <= low <= high <= {MAX_SECONDS:,}"


def _step(raw: Any, path: str, catalog: dict) -> Step:
    step = _Table(raw, path)
    properties = step.table("properties", {})
    chance = float(step.get("chance", (int, float), 1.0, check=_probability))
    repeat = float(step.get("repeat", (int, float), 0.0, check=_below_one))
    restart = step.get("restart", (int, float), None, check=_below_one)
    if restart is not None and "repeat" in step.raw:
        raise UsageError(f"'{path}' takes repeat or restart, not both")
    result = Step(
        event=step.get("event", str, check=lambda v: None if v.strip() else "must not be empty"),
        properties={
            key: parse_value_spec(properties.get(key, dict), f"{properties.path}.{key}", catalog)
            for key in properties.raw
        },
        chance=chance,
        # restart: after each time, the step starts over with this chance and then happens with its
        # chance again
        repeat=repeat if restart is None else restart * chance,
    )
    properties.finish()
    step.finish()
    return result


def _below_one(value: float) -> str | None:
    return None if 0 <= value < 1 else "must be at least 0 and below 1"


def _session_steps(raw_steps: list, path: str) -> tuple[Step, ...]:
    """Session mode's steps: one table a role (ROLES, each once), with the name of the page or
    screen view it happens on (`page`, optional) and its track's `event` (the landing has none)."""
    steps, seen = [], set()
    for i, raw in enumerate(raw_steps):
        step = _Table(raw, f"{path}[{i}]")
        role = step.get("role", str, check=_one_of(ROLES))
        if role in seen:
            raise UsageError(f"'{step.path}.role' {role!r} comes twice: one step a role")
        seen.add(role)
        page = step.get("page", str, None, check=lambda v: None if v.strip() else "must not be empty")
        event = step.get("event", str, None, check=lambda v: None if v.strip() else "must not be empty")
        step.finish()  # no `properties`: a session's are spec v2's, made from the store
        if (event is None) != (role == "landing"):
            raise UsageError(
                f"'{step.path}' must have an event"
                if event is None
                else f"'{step.path}': the landing is a page or screen view only (no event)"
            )
        if page is not None and role in ("click", "add", "remove"):
            raise UsageError(
                f"'{step.path}.page': {role} happens on the page before it, so it has no page of its own"
            )
        if page is not None:
            steps.append(Step(page, {}, view=True, role=role))
        if event is not None:
            steps.append(Step(event, {}, role=role))
    missing = [role for role in ROLES if role not in seen and role not in OPTIONAL_ROLES]
    if missing:
        raise UsageError(f"'{path}' must have a step for each role; missing: {', '.join(missing)}")
    if not any(s.role == "landing" and s.view for s in steps):
        raise UsageError(f"'{path}': the landing step needs its `page`")
    return tuple(steps)


def _session_shape(table: _Table) -> SessionShape:
    """[journeys.<name>.session]: the numbers of SessionShape, each optional."""
    defaults = SessionShape()
    values: dict[str, Any] = {}
    for name, default in vars(defaults).items():
        if isinstance(default, tuple):
            values[name] = _number_range(table, name, list(default))
        elif isinstance(default, int):
            values[name] = table.get(
                name, int, default, check=lambda v: None if 1 <= v <= 50 else "must be 1 to 50"
            )
        elif name.endswith("_chance"):
            values[name] = float(table.get(name, (int, float), default, check=_probability))
        else:
            values[name] = float(
                table.get(
                    name, (int, float), default, check=lambda v: None if v >= 0 else "must be 0 or more"
                )
            )
    table.finish()
    if values["sessions_per_visit"] < 1 or values["lists"] < 1:
        raise UsageError(f"'{table.path}': sessions_per_visit and lists are means of at least 1")
    return SessionShape(**values)


def _store(table: _Table) -> Store | None:
    """[store]: a generated catalog (see store.py)."""
    if not table.raw:
        return None
    categories_table = table.table("categories")
    categories = []
    for name in categories_table.raw:
        category = categories_table.table(name)
        if name.count("/") != 1 or not all(part.strip() for part in name.split("/")):
            raise UsageError(f"'{category.path}': a category has two levels, e.g. \"Clothing/Tops\"")
        price = _number_range(category, "price")
        categories.append(Category(name, tuple(category.get("nouns", list, check=_words)), price))
        category.finish()
    categories_table.finish()
    if not categories:
        raise UsageError(f"'{categories_table.path}' must name at least one category")
    created = table.get(
        "created",
        list,
        ["2022-01-01", "2024-12-31"],
        check=lambda v: (
            None if len(v) == 2 and all(isinstance(d, str) for d in v) else "must be two dates [first, last]"
        ),
    )
    try:
        first, last = (date.fromisoformat(d) for d in created)
    except ValueError:
        raise UsageError(f"'{table.path}.created' must be two dates YYYY-MM-DD, not {created!r}") from None
    spec = StoreSpec(
        seed=table.get("seed", int, 1),
        products=table.get(
            "products", int, check=lambda v: None if 1 <= v <= 1_000_000 else "must be 1 to 1,000,000"
        ),
        popularity_exponent=float(
            table.get(
                "popularity_exponent",
                (int, float),
                1.0,
                check=lambda v: None if 0 <= v <= 4 else "must be 0 to 4",
            )
        ),
        created=(min(first, last), max(first, last)),
        currency=table.get("currency", str, "USD"),
        brands=tuple(table.get("brands", list, check=_words)),
        adjectives=tuple(table.get("adjectives", list, check=_words)),
        colors=tuple(table.get("colors", list, check=_words)),
        categories=tuple(categories),
        totals=_totals(table.table("totals", {})),
    )
    table.finish()
    return build_store(spec)


def _totals(table: _Table) -> Totals | None:
    """[store.totals]: an order's tax, shipping and coupon (see Totals); None without the table."""
    if not table.raw:
        return None
    totals = Totals(
        tax_rate=float(table.get("tax_rate", (int, float), 0.0, check=_below_one)),
        shipping=float(table.get("shipping", (int, float), 0.0, check=_non_negative)),
        free_shipping_over=_optional_float(
            table.get("free_shipping_over", (int, float), None, check=_non_negative)
        ),
        coupon=table.get("coupon", str, None, check=lambda v: None if v.strip() else "must not be empty"),
        coupon_chance=float(table.get("coupon_chance", (int, float), 0.0, check=_probability)),
        coupon_discount=float(table.get("coupon_discount", (int, float), 0.0, check=_below_one)),
    )
    table.finish()
    if totals.coupon_chance and totals.coupon is None:
        raise UsageError(f"'{table.path}.coupon_chance' needs the `coupon` code it applies")
    return totals


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else "must not be negative"


def _words(value: list) -> str | None:
    if value and all(isinstance(w, str) and w.strip() for w in value):
        return None
    return "must be a non-empty list of words"


def _between(most: int):
    """A check of a [fewest, most] pair of integers from 1 to `most`."""

    def check(value: list) -> str | None:
        if (
            len(value) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in value)
            and 1 <= value[0] <= value[1] <= most
        ):
            return None
        return f"must be [fewest, most], from 1 to {most}"

    return check


def _personas(table: _Table) -> Personas:
    """[personas]: see store.Personas."""
    default = Personas()
    count = table.get("categories", list, list(default.categories), check=_between(3))
    brands = table.get("brands", list, list(default.brands), check=_between(3))
    personas = Personas(
        categories=(count[0], count[1]),
        affinity=float(table.get("affinity", (int, float), default.affinity, check=_probability)),
        brands=(brands[0], brands[1]),
        brand_affinity=float(
            table.get("brand_affinity", (int, float), default.brand_affinity, check=_probability)
        ),
        price_sensitivity=_number_range(table, "price_sensitivity", list(default.price_sensitivity)),
    )
    table.finish()
    return personas


def _weights(n: int):
    """A check of `n` weights, 0 or more, not all 0."""

    def check(value: list) -> str | None:
        if (
            len(value) == n
            and all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in value)
            and sum(value) > 0
        ):
            return None
        return f"must be {n} weights, 0 or more, not all 0"

    return check


def _rhythm(table: _Table) -> Rhythm | None:
    """[time]: see Rhythm."""
    if not table.raw:
        return None
    rhythm = Rhythm(
        hours=tuple(float(w) for w in table.get("hours", list, check=_weights(24))),
        weekdays=tuple(float(w) for w in table.get("weekdays", list, [1] * 7, check=_weights(7))),
        weekly_growth=float(
            table.get(
                "weekly_growth",
                (int, float),
                0.0,
                check=lambda v: None if -0.5 <= v <= 2 else "must be from -0.5 to 2",
            )
        ),
    )
    table.finish()
    return rhythm


def _optional_names(names: list | None) -> tuple[str, ...] | None:
    return None if names is None else tuple(names)


def _transform(table: _Table) -> dict[str, Any]:
    """[transform]: how `toolkit workshop` turns this scenario's logs into interactions."""
    values = {
        "item_id": table.get("item_id", str, "sku", check=_one_of(("sku", "product_id"))),
        "domain": table.get("domain", str, None, check=_one_of(("ecommerce",))),
        "events": _optional_names(table.get("events", list, None, check=_words)),
    }
    table.finish()
    return values
