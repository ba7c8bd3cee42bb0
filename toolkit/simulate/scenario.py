"""The scenario model: sources, journeys and their steps, sessions, delivery, the store, the
rhythm of days, as typed objects. A scenario holds all behaviour of a simulation; the engine knows
no event names. `scenario_toml` reads scenario files into it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import orjson

from toolkit.simulate.store import Personas, Store
from toolkit.simulate.values import ValueSpec

IDENTIFY = -1  # the step id of identify messages
AUDIENCES = ("new_visitors", "returning", "everyone", "triggered")
MODES = ("funnel", "basket", "paths", "session")
RETURNING = ("later_days", "next_pass")
# What each step of a session journey is to the shopper; the names of its calls are the scenario's.
ROLES = ("landing", "search", "list", "click", "product", "add", "remove", "cart", "checkout", "order")
OPTIONAL_ROLES = ("click",)  # a step a session scenario may leave out


@dataclass(frozen=True)
class Source:
    key: str  # short name used on the command line: web, android, ios, email
    name: str  # the Segment source's name, e.g. website-prod
    id: str  # the Segment source id (projectId in every message)
    library: str
    platform: bool
    traits: dict[str, ValueSpec]
    properties: dict[str, ValueSpec] = field(default_factory=dict)  # on every track of its platform's users
    page_property: str | None = (
        None  # analytics.js sources: the property naming the page an event is on (its title)
    )


@dataclass(frozen=True)
class Step:
    event: str  # a track's event name, or the name of a page or screen view
    properties: dict[str, ValueSpec]
    chance: float = 1.0
    repeat: float = 0.0  # chance of doing it once more after each time (basket and paths modes)
    view: bool = False  # a page (web) or screen (apps) view named `event`, not a track
    role: str | None = None  # session mode: what the step is to the shopper (ROLES)

    def label(self, view_call: str) -> str:
        """How counts name it: the event, or e.g. "page: Home" for a view made by `view_call`."""
        return f"{view_call}: {self.event}" if self.view else self.event


@dataclass(frozen=True)
class SessionShape:
    """Session mode: a visit is sessions apart by idle gaps; a session lands on a page, browses
    product lists (some from a search), views products from them, adds some to the cart, and may
    go on to the cart, checkout and an order. Means are of geometric counts."""

    sessions_per_visit: float = 1.5  # mean sessions on a day a user visits
    idle_minutes: float = 30.0  # at least this long between a user's sessions
    lists: float = 2.0  # mean product lists a session
    list_size: int = 8  # products in a list
    views_per_list: float = 1.5  # mean products viewed from a list
    search_chance: float = 0.3  # a list is search results
    add_chance: float = 0.35  # a viewed product is added (lowered for dear products by price sensitivity)
    remove_chance: float = 0.15  # an added product is removed at the cart
    cart_chance: float = 0.75  # a session with an added product views its cart
    checkout_chance: float = 0.6  # ...then starts checkout
    order_chance: float = 0.8  # ...then completes the order
    login_chance: float = 0.4  # a registered user's session starts with an identify (a login)
    view_gap_seconds: tuple[float, float] = (0.1, 2.0)  # a track after the page or screen view it happens on


@dataclass(frozen=True)
class Journey:
    name: str
    audience: str
    mode: str
    steps: tuple[Step, ...]
    gap_seconds: tuple[float, float]
    continue_base: float = 1.0
    continue_per_step: float = 0.0
    start_chance: float = 1.0  # funnel mode: the chance that the first step happens at all
    identify_on_complete: bool = False
    identify_chance: float = 1.0  # of those who complete the journey
    identify_gap_seconds: tuple[float, float] | None = None  # None: gap_seconds
    user_id: bool = True  # whether its messages carry the userId
    then: str | None = None
    source: str | None = None  # None: the user's platform source
    session: SessionShape | None = None  # session mode's shape

    def step_of(self, role: str, view: bool) -> int | None:
        """Index of the step with this role that is (not) a view; None if there is none."""
        return next((i for i, step in enumerate(self.steps) if step.role == role and step.view == view), None)

    def continue_chance(self, step_index: int) -> float:
        """Probability of going on to the next step after step `step_index` (funnel mode)."""
        return min(1.0, self.continue_base + self.continue_per_step * step_index)


@dataclass(frozen=True)
class Delivery:
    """How messages reach Segment beyond the libraries' own queueing (off by default)."""

    duplicate_chance: float = (
        0.0  # a message delivered twice (a retried batch): same messageId, received again a little later
    )
    retry_seconds: tuple[int, int] = (5, 600)  # how much later the second copy arrives
    offline_chance: float = (
        0.0  # a user's day on a mobile library spent offline: its messages queued, sent when back online
    )
    offline_hours: tuple[float, float] = (1.0, 48.0)  # how long the queue waits

    @property
    def effects(self) -> bool:
        return self.duplicate_chance > 0 or self.offline_chance > 0


@dataclass(frozen=True)
class Rhythm:
    """[time]: when users shop, in their own local time (their device's time zone): relative
    weights of each hour of the day and of each weekday (Monday first), and the growth of new
    visitors from week to week. Weekday weights also scale new visitors and returning visits.
    A shopper's day runs from DAY_STARTS_AT to DAY_STARTS_AT the next morning (a late-night visit
    belongs to the evening before), and its sessions start at least LAST_SESSION_MARGIN_HOURS before
    it ends, so that one user's visits of two days do not overlap (a session would have to last
    over two hours)."""

    DAY_STARTS_AT = 4  # local hour: the quietest of most day curves
    LAST_SESSION_MARGIN_HOURS = 2

    hours: tuple[float, ...]
    weekdays: tuple[float, ...] = (1.0,) * 7
    weekly_growth: float = 0.0

    def weekday_factor(self, day: date) -> float:
        """The weight of `day`'s weekday against the week's average."""
        return self.weekdays[day.weekday()] * 7 / sum(self.weekdays)

    def day_factor(self, day: date, first_day: date) -> float:
        """How many visitors `day` has against an average day of the first week."""
        return self.weekday_factor(day) * (1.0 + self.weekly_growth) ** ((day - first_day).days / 7)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    new_visitors_per_day: int
    day_start_seconds: int
    arrival_seconds: int
    retention: float
    user_id_digits: int
    sources: dict[str, Source]
    catalog: dict[str, tuple[Any, ...]]
    journeys: dict[str, Journey]
    traits: dict[str, ValueSpec] = field(default_factory=dict)
    returning: str = "later_days"
    passes: tuple[str, ...] = ()  # platform source keys, in the order of a day's passes
    context_ip: str | None = None  # the trait every message of a user carries as context.ip
    products: tuple[dict[str, Any], ...] = ()  # the store's catalog export, one mapping a product
    delivery: Delivery = field(default_factory=Delivery)
    store: Store | None = None  # a generated catalog ([store]), which products is then the export of
    personas: Personas = field(default_factory=Personas)
    rhythm: Rhythm | None = None  # None: journeys start from day_start, in UTC
    visit_chance: float = 1.0  # later_days: a retained user visits on a given day with this chance
    item_id: str = "sku"  # [transform]: the property `toolkit workshop` reads the item id from...
    domain: str | None = (
        None  # ...and the Personalize domain it writes EVENT_TYPE for (None: the event names)
    )
    events: tuple[str, ...] | None = None  # ...and the events it keeps (None: the domain map's)

    def visitors_on(self, day: date, first_day: date) -> int:
        """New visitors per platform on `day` of a run that began on `first_day`."""
        factor = 1.0 if self.rhythm is None else self.rhythm.day_factor(day, first_day)
        return max(1, round(self.new_visitors_per_day * factor))

    def catalog_lines(self) -> bytes:
        """The products as catalog.jsonl: one JSON object a line."""
        return b"".join(orjson.dumps(product) + b"\n" for product in self.products)

    @property
    def platforms(self) -> list[Source]:
        return [s for s in self.sources.values() if s.platform]

    def traits_of(self, platform: str) -> dict[str, ValueSpec]:
        """The traits of users who register on a platform: the scenario's and the platform's own."""
        return {**self.traits, **self.sources[platform].traits}

    @property
    def used_sources(self) -> list[str]:
        """Keys of the sources messages are simulated on: the platforms and journeys' own sources."""
        used = {s.key for s in self.platforms} | {j.source for j in self.journeys.values() if j.source}
        return [key for key in self.sources if key in used]

    def journeys_for(self, audience: str) -> list[Journey]:
        """The journeys of new visitors or returning users ("everyone"'s among both), or triggered ones."""
        return [
            j
            for j in self.journeys.values()
            if j.audience == audience or (j.audience == "everyone" and audience != "triggered")
        ]

    def with_visitors(self, new_visitors_per_day: int) -> Scenario:
        """The same scenario with another number of new visitors per platform per day."""
        return replace(self, new_visitors_per_day=new_visitors_per_day)
