"""Session mode: shoppers' visits as sessions of a store, vectorised with numpy.

A visit is one or more sessions, idle gaps apart. A session lands on a page, browses product
lists (some of them search results) mostly in the user's persona categories, views products from
them (the top of a list more often), adds some to the cart (dear ones less often for the
price-sensitive), and may go on to the cart (removing some), checkout and an order. It is
consistent by construction: what is ordered was added and not removed, what was added was viewed,
what was viewed was listed. Every track happens on the page or screen viewed last, and the web's
context.page says so. New visitors browse anonymously and those who sign up are identified in
their first session, before the cart; registered users are identified on every message and
start a session with a login (an identify) now and then.

Each session's messages are rows with a sort key (session, phase, list, view, part); sorting the
rows gives the session's order, and gaps accumulated along it give the times. Properties are
spec v2's, joined from the store's per-product JSON pieces: texts shared by many messages (a
product, a page) are made once per shard, the ones with products[] once per message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote_plus

import numpy as np
import orjson

from toolkit.segment.ids import derive_seed
from toolkit.segment.libraries import LIBRARIES, REFERRERS, page_context
from toolkit.simulate.columns import distinct_codes, filled
from toolkit.simulate.draws import below, seed_words, unit, weighted_below
from toolkit.simulate.population import Shard
from toolkit.simulate.scenario import IDENTIFY, Journey, Scenario, SessionShape
from toolkit.simulate.store import Store, Totals
from toolkit.simulate.values import number_texts

EXTRA_IDLE_MINUTES = 90.0  # mean wait beyond the idle gap before a user's next session
TOP_OF_LIST = 0.3  # a viewed product is at position k of its list with chance ~ (1 - this) ** k
SECOND_ITEM = 0.15  # an added product is added two at a time
QUANTITIES = 2  # the most of a product a cart line holds
PERSONA = "persona"
ROLES = (
    "landing",
    "search",
    "list",
    "product",
    "cart",
    "checkout",
    "order",
)  # the roles a page view can have


class Simulating(Protocol):
    """What a session walk uses of the shard being simulated (engine.ShardSimulation)."""

    scenario: Scenario
    shard: Shard
    rng: np.random.Generator
    users: Any  # engine.Users: seeds and words
    step_base: dict[str, int]  # a journey's first global step id
    events: Any  # engine.Events, which the walk adds its messages to
    payloads: list[str]  # properties texts given with events
    pages: list[str]  # context.page texts given with events

    def last_session_starts(self, users: np.ndarray) -> np.ndarray: ...


@dataclass
class _Personas:
    """Each user's preferred categories and brands (columns; a user has `count` and `brand_count`
    of them) and price sensitivity."""

    categories: np.ndarray
    count: np.ndarray
    brands: np.ndarray
    brand_count: np.ndarray
    sensitivity: np.ndarray

    def subset(self, rows: np.ndarray) -> _Personas:
        return _Personas(*(column[rows] for column in vars(self).values()))


def _store_of(scenario: Scenario) -> Store:
    """The [store] session journeys shop in (the scenario reader refuses session journeys without one)."""
    if scenario.store is None:
        raise TypeError("session journeys need the scenario's [store]")
    return scenario.store


def _shape_of(journey: Journey) -> SessionShape:
    """A session journey's numbers (the scenario reader gives every session journey its shape)."""
    if journey.session is None:
        raise TypeError(f"journey {journey.name} is not a session journey")
    return journey.session


def personas(sim: Simulating, users: np.ndarray) -> _Personas:
    """Users' personas, from their own seed: the same on every day."""
    scenario, store = sim.scenario, _store_of(sim.scenario)
    words = seed_words(sim.users.seeds[users] ^ np.uint64(derive_seed(PERSONA)), 9)
    weights = store.category_weights()
    categories = np.stack([weighted_below(words[1 + i], weights, len(weights)) for i in range(3)], axis=1)
    brands = np.stack([below(words[5 + i], len(store.spec.brands)) for i in range(3)], axis=1)
    low, high = scenario.personas.price_sensitivity

    def how_many(word: np.ndarray, span: tuple[int, int]) -> np.ndarray:
        return span[0] + below(word, span[1] - span[0] + 1)

    return _Personas(
        categories,
        how_many(words[0], scenario.personas.categories),
        brands,
        how_many(words[8], scenario.personas.brands),
        low + unit(words[4]) * (high - low),
    )


def walk_sessions(
    sim: Simulating,
    journey: Journey,
    source: int,
    users: np.ndarray,
    start: np.ndarray,
    signs_up: np.ndarray | None,
) -> np.ndarray:
    """Emit each user's visit from `start`; `signs_up` marks new visitors who register (None:
    the users are registered already). Returns when each user's visit ended."""
    shape = _shape_of(journey)
    rng = sim.rng
    sessions = 1 + rng.poisson(shape.sessions_per_visit - 1.0, len(users))
    persona = personas(sim, users)
    registered = np.ones(len(users), dtype=bool) if signs_up is None else np.zeros(len(users), dtype=bool)
    clock, end = start.astype(np.float64), start.astype(np.float64)
    latest = sim.last_session_starts(users)
    for k in range(int(sessions.max(initial=0))):
        active = np.flatnonzero((sessions > k) & ((clock <= latest) | (k == 0)))
        signing = np.zeros(len(active), dtype=bool) if signs_up is None or k else signs_up[active]
        session = _Session(
            sim,
            journey,
            source,
            users[active],
            clock[active],
            registered[active],
            signing,
            persona.subset(active),
        )
        end[active] = session.emit()
        if signs_up is not None and k == 0:
            registered = signs_up.astype(bool)
        idle = shape.idle_minutes + rng.exponential(EXTRA_IDLE_MINUTES, len(active))
        clock[active] = end[active] + idle * 60_000
    return end


@dataclass
class _Rows:
    """A session batch's messages before sorting: sort keys, step, and the texts and pages given with them."""

    keys: list = field(default_factory=list)  # (session, phase, list, view, part) columns, per part
    step: list = field(default_factory=list)
    payload: list = field(default_factory=list)
    page: list = field(default_factory=list)  # the page a view shows (-1: not a view)

    def add(self, session: np.ndarray, phase: int, a, b, part: int, step: int, payload=0, page=-1) -> None:
        n = len(session)
        self.keys.append(np.stack([session] + [filled(v, n, np.int64) for v in (phase, a, b, part)]))
        self.step.append(np.full(n, step, dtype=np.int64))
        self.payload.append(filled(payload, n, np.int64))
        self.page.append(filled(page, n, np.int64))

    def sorted(self) -> tuple[np.ndarray, ...]:
        keys = np.concatenate(self.keys, axis=1)
        order = np.lexsort(keys[::-1])
        return (
            keys[0][order],
            keys[1][order],
            *(np.concatenate(column)[order] for column in (self.step, self.payload, self.page)),
        )


class _Session:
    """One session each of a batch of users (see the module's docstring)."""

    def __init__(
        self,
        sim: Simulating,
        journey: Journey,
        source: int,
        users: np.ndarray,
        starts: np.ndarray,
        known: np.ndarray,
        signing: np.ndarray,
        persona: _Personas,
    ):
        self.sim, self.journey, self.source, self.users, self.starts = sim, journey, source, users, starts
        self.known, self.signing, self.persona = known, signing, persona
        self.shape = _shape_of(journey)
        self.store = _store_of(sim.scenario)
        self.rng = sim.rng
        self.base = sim.step_base[journey.name]
        self.web = LIBRARIES[sim.scenario.sources[sim.shard.platform].library].view_call == "page"
        self.rows = _Rows()
        self.pages = pages_of(self.store, journey)

    def step(self, role: str) -> int:
        """The step id of the role's track (the scenario reader gives every role one)."""
        index = self.journey.step_of(role, False)
        if index is None:
            raise TypeError(f"journey {self.journey.name} has no {role} step")
        return self.base + index

    def view_step(self, role: str) -> int | None:
        """The step id of the page or screen view before the role's track; None without one."""
        index = self.journey.step_of(role, True)
        return None if index is None else self.base + index

    def view(
        self, session: np.ndarray, phase: int, a, b, part: int, role: str, page: np.ndarray | int
    ) -> None:
        """The page or screen view before a role's track, when the scenario names one."""
        step = self.view_step(role)
        if step is not None and len(session):
            page = filled(page, len(session), np.int64)
            properties = 0 if self.web else self.texts(page, self.pages.properties(self.web))  # web: timed()
            self.rows.add(session, phase, a, b, part, step, properties, page)

    def texts(self, keys: np.ndarray, table: np.ndarray) -> np.ndarray:
        """Payload codes of texts shared by many messages: the table's text of each key, once each."""
        distinct, inverse = distinct_codes(keys, len(table))
        offset = len(self.sim.payloads)
        self.sim.payloads.extend(table[distinct].tolist())
        return offset + inverse

    def own_texts(self, texts: list[str]) -> np.ndarray:
        """Payload codes of texts each message has to itself."""
        offset = len(self.sim.payloads)
        self.sim.payloads.extend(texts)
        return np.arange(offset, offset + len(texts))

    def emit(self) -> np.ndarray:
        sessions = np.arange(len(self.users))
        self.view(sessions, 0, 0, 0, 0, "landing", self.pages.landing)
        login = self.known & (self.rng.random(len(sessions)) < self.shape.login_chance)
        self.rows.add(sessions[login], 0, 0, 0, 1, IDENTIFY)
        lines = self.browse(sessions)
        self.rows.add(sessions[self.signing], 2, 0, 0, 0, IDENTIFY)  # signing up, before the cart
        self.checkout(sessions, *lines)
        return self.timed()

    def browse(self, sessions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lists, product views and adds; returns the cart's lines: session, product, quantity."""
        shape, store, rng = self.shape, self.store, self.rng
        lists = rng.geometric(1.0 / shape.lists, len(sessions))
        list_session = np.repeat(sessions, lists)
        list_index = np.arange(len(list_session)) - np.repeat(np.cumsum(lists) - lists, lists)
        n = len(list_session)
        own = rng.random(n) < self.sim.scenario.personas.affinity
        slot = (rng.random(n) * self.persona.count[list_session]).astype(np.int64)
        anywhere = weighted_below(
            rng.integers(0, 1 << 64, n, dtype=np.uint64), store.category_weights(), len(store.spec.categories)
        )
        category = np.where(own, self.persona.categories[list_session, slot], anywhere)
        branded = own & (rng.random(n) < self.sim.scenario.personas.brand_affinity)
        brand = self.persona.brands[
            list_session, (rng.random(n) * self.persona.brand_count[list_session]).astype(np.int64)
        ]
        shown, length = _lists(store, category, np.where(branded, brand, -1), shape.list_size, rng)
        search = rng.random(n) < shape.search_chance
        query = self.pages.query_of(category, rng)
        where = search
        self.view(list_session[where], 1, list_index[where], 0, 0, "search", self.pages.search(query[where]))
        self.rows.add(
            list_session[where],
            1,
            list_index[where],
            0,
            1,
            self.step("search"),
            self.texts(query[where], self.pages.queries_properties),
        )
        where = ~search
        self.view(
            list_session[where], 1, list_index[where], 0, 2, "list", self.pages.category(category[where])
        )
        list_texts = self.own_texts(self.list_texts(category, search, shown, length))
        self.rows.add(list_session, 1, list_index, 0, 3, self.step("list"), list_texts)
        # products viewed from each list, the top of the list more often
        views = rng.geometric(1.0 / (shape.views_per_list + 1.0), n) - 1
        view_list = np.repeat(np.arange(n), views)
        view_index = 1 + np.arange(len(view_list)) - np.repeat(np.cumsum(views) - views, views)
        position = np.minimum(rng.geometric(TOP_OF_LIST, len(view_list)) - 1, length[view_list] - 1)
        product = shown[view_list, position]
        session, a = list_session[view_list], list_index[view_list]
        click = self.journey.step_of("click", False)  # optional (scenario.OPTIONAL_ROLES)
        if click is not None:  # Product Clicked on the list, with the product's position in it
            size = shown.shape[1]
            self.rows.add(
                session,
                1,
                a,
                view_index,
                0,
                self.base + click,
                self.texts(product * size + position, store.texts("listed", size)),
            )
        self.view(session, 1, a, view_index, 1, "product", self.pages.product(product))
        self.rows.add(
            session, 1, a, view_index, 2, self.step("product"), self.texts(product, store.texts("product"))
        )
        chance = shape.add_chance * (1.0 - self.persona.sensitivity[session] * store.price_rank()[product])
        added = _first_per_session(rng.random(len(product)) < chance, session, product, store.size)
        quantity = 1 + (rng.random(int(added.sum())) < SECOND_ITEM)
        self.rows.add(
            session[added],
            1,
            a[added],
            view_index[added],
            3,
            self.step("add"),
            self.texts(product[added] * QUANTITIES + quantity - 1, store.texts("line", QUANTITIES)),
        )
        return session[added], product[added], quantity

    def checkout(
        self, sessions: np.ndarray, line_session: np.ndarray, product: np.ndarray, quantity: np.ndarray
    ) -> None:
        """Cart, removals, checkout and order, for sessions with something in the cart."""
        shape, rng = self.shape, self.rng
        cart = (np.bincount(line_session, minlength=len(sessions)) > 0) & (
            rng.random(len(sessions)) < shape.cart_chance
        )
        removed = cart[line_session] & (rng.random(len(line_session)) < shape.remove_chance)
        left = np.bincount(line_session[~removed], minlength=len(sessions))
        started = cart & (left > 0) & (rng.random(len(sessions)) < shape.checkout_chance)
        ordered = started & (rng.random(len(sessions)) < shape.order_chance)
        bounds = np.searchsorted(line_session, np.arange(len(sessions) + 1))
        kept = ~removed
        # a checkout creates the order: its order_id and checkout_id are the order's (spec v2)
        self.order_numbers = rng.integers(0, 1 << 62, (2, len(sessions)))
        self.view(sessions[cart], 3, 0, 0, 0, "cart", self.pages.cart)
        self.rows.add(
            sessions[cart],
            3,
            0,
            0,
            1,
            self.step("cart"),
            self.own_texts(
                self.basket_texts(
                    sessions[cart], line_session, product, quantity, np.ones(len(product), dtype=bool), "cart"
                )
            ),
        )
        line_number = np.arange(len(line_session)) - bounds[line_session]
        self.rows.add(
            line_session[removed],
            3,
            0,
            1 + line_number[removed],
            0,
            self.step("remove"),
            self.texts(
                product[removed] * QUANTITIES + quantity[removed] - 1, self.store.texts("line", QUANTITIES)
            ),
        )
        self.view(sessions[started], 4, 0, 0, 0, "checkout", self.pages.checkout)
        self.rows.add(
            sessions[started],
            4,
            0,
            0,
            1,
            self.step("checkout"),
            self.own_texts(
                self.basket_texts(sessions[started], line_session, product, quantity, kept, "checkout")
            ),
        )
        self.view(sessions[ordered], 4, 0, 0, 2, "order", self.pages.order)
        self.rows.add(
            sessions[ordered],
            4,
            0,
            0,
            3,
            self.step("order"),
            self.own_texts(
                self.basket_texts(sessions[ordered], line_session, product, quantity, kept, "order")
            ),
        )

    def timed(self) -> np.ndarray:
        """Sort the rows into each session's order, time them and add them to the shard's events;
        returns when each session ended."""
        session, phase, step, payload, page = self.rows.sorted()
        is_view = page >= 0
        first = np.r_[True, session[1:] != session[:-1]]
        after_view = np.r_[False, is_view[:-1]] & ~first & ~is_view  # a call on the page just viewed
        low, high = (
            np.where(after_view, self.shape.view_gap_seconds[0], self.journey.gap_seconds[0]),
            np.where(after_view, self.shape.view_gap_seconds[1], self.journey.gap_seconds[1]),
        )
        gaps = np.where(first, 0.0, (low + self.rng.random(len(step)) * (high - low)) * 1000.0)
        elapsed = np.cumsum(gaps)
        session_start = np.maximum.accumulate(np.where(first, np.arange(len(step)), 0))
        times = self.starts[session] + elapsed - elapsed[session_start]
        last_view = np.maximum.accumulate(
            np.where(is_view, np.arange(len(page)), 0)
        )  # every session opens with one
        identified = self.known[session] | (self.signing[session] & (phase >= 2))
        page_codes: np.ndarray | int = -1
        if self.web:
            page_codes, view_payload = self.web_pages(session, page, is_view, last_view)
            payload = np.where(is_view, view_payload, payload)
        self.sim.events.add(self.users[session], self.source, step, identified, times, payload, page_codes)
        end = self.starts.copy()
        np.maximum.at(end, session, times)
        return end

    def web_pages(
        self, session: np.ndarray, page: np.ndarray, is_view: np.ndarray, last_view: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """analytics.js's context.page of each message (codes into the shard's pages) and the
        properties of each page call (codes into its payloads): the page viewed last, whose
        referrer (document.referrer) is the page before it in the session, or for the session's
        first page where the visitor came from (analytics-next page-enrichment: the page call's
        properties are its context.page and its name)."""
        views = np.flatnonzero(is_view)
        opens = np.r_[True, session[views[1:]] != session[views[:-1]]] if len(views) else np.zeros(0, bool)
        came_from = self.rng.integers(0, len(REFERRERS), len(views))
        referrer = np.zeros(len(page), dtype=np.int64)  # REFERRERS, then len(REFERRERS) + a page
        referrer[views] = np.where(opens, came_from, len(REFERRERS) + np.r_[0, page[views[:-1]]])
        key = page[last_view] * (len(REFERRERS) + self.pages.count) + referrer[last_view]
        distinct, inverse = np.unique(key, return_inverse=True)
        contexts, properties = self.pages.referred(
            distinct // (len(REFERRERS) + self.pages.count), distinct % (len(REFERRERS) + self.pages.count)
        )
        page_offset, payload_offset = len(self.sim.pages), len(self.sim.payloads)
        self.sim.pages.extend(contexts.tolist())
        self.sim.payloads.extend(properties.tolist())
        return page_offset + inverse, payload_offset + inverse

    def list_texts(
        self, category: np.ndarray, search: np.ndarray, shown: np.ndarray, length: np.ndarray
    ) -> list[str]:
        """Product List Viewed's properties: category, list_id and the products shown, with their
        positions."""
        lists, column = np.nonzero(shown >= 0)  # each list's products, in position order
        items = self.store.texts("listed", shown.shape[1])[shown[lists, column] * shown.shape[1] + column]
        names, slugs = self.pages.category_texts
        list_id = np.where(search, '"search_results"', slugs[category])
        return [
            f'{{"category":{name},"list_id":{id_},"products":[{products}]}}'
            for name, id_, products in zip(
                names[category].tolist(), list_id.tolist(), _joined(items, lists), strict=True
            )
        ]

    def basket_texts(
        self,
        sessions: np.ndarray,
        line_session: np.ndarray,
        product: np.ndarray,
        quantity: np.ndarray,
        kept: np.ndarray,
        kind: str,
    ) -> list[str]:
        """Cart Viewed (cart_id, products), Checkout Started (checkout_id, currency, order_id,
        products, revenue) and Order Completed (the same, and the store's totals) of these
        sessions' kept lines; a session's checkout and order carry the same ids."""
        chosen = np.isin(line_session, sessions) & kept
        line_session, product, quantity = line_session[chosen], product[chosen], quantity[chosen]
        group = np.searchsorted(sessions, line_session)  # lines are in session order, every session has some
        items = self.store.texts("line", QUANTITIES)[product * QUANTITIES + quantity - 1]
        products = _joined(items, group)
        if kind == "cart":
            return [
                f'{{"cart_id":"{n:016x}","products":[{lines}]}}'
                for n, lines in zip(
                    self.rng.integers(0, 1 << 62, len(sessions)).tolist(), products, strict=True
                )
            ]
        revenue = np.round(
            np.bincount(group, weights=self.store.price[product] * quantity, minlength=len(sessions)), 2
        )
        currency = orjson.dumps(self.store.spec.currency).decode()
        orders, checkouts = self.order_numbers[:, sessions].tolist()
        totals = self.store.spec.totals if kind == "order" else None
        extra = [("", "", "")] * len(sessions) if totals is None else self.totals_texts(totals, revenue)
        return [
            f'{{"checkout_id":"{c:016x}",{coupon}"currency":{currency},{discount}'
            f'"order_id":"{n % 10**9:09d}","products":[{lines}],"revenue":{total}{rest}}}'
            for n, c, lines, total, (coupon, discount, rest) in zip(
                orders, checkouts, products, number_texts(revenue.tolist()), extra, strict=True
            )
        ]

    def totals_texts(self, totals: Totals, revenue: np.ndarray) -> list[tuple[str, str, str]]:
        """The members an order's totals add, in their places among its sorted keys: coupon,
        discount, and shipping, subtotal, tax, total (spec v2: revenue is the lines' sum, subtotal
        after discounts, total with shipping and tax)."""
        couponed = self.rng.random(len(revenue)) < totals.coupon_chance
        discount = np.round(np.where(couponed, revenue * totals.coupon_discount, 0.0), 2)
        subtotal = np.round(revenue - discount, 2)
        free = np.inf if totals.free_shipping_over is None else totals.free_shipping_over
        shipping = np.where(subtotal >= free, 0.0, totals.shipping)
        tax = np.round(subtotal * totals.tax_rate, 2)
        total = np.round(subtotal + shipping + tax, 2)
        coupon = ',"coupon":' + orjson.dumps(totals.coupon).decode() if totals.coupon else ""
        texts = [number_texts(column.tolist()) for column in (discount, shipping, subtotal, tax, total)]
        return [
            (
                (coupon[1:] + ",") if used else "",
                f'"discount":{d},',
                f',"shipping":{h},"subtotal":{s},"tax":{t},"total":{o}',
            )
            for used, d, h, s, t, o in zip(couponed.tolist(), *texts, strict=True)
        ]


def _joined(items: np.ndarray, group: np.ndarray) -> list[str]:
    """Each group's items joined with commas (items in group order, each group's together)."""
    if not len(items):
        return []
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]).tolist()
    listed = items.tolist()
    return [",".join(listed[a:b]) for a, b in zip(starts, starts[1:] + [len(listed)], strict=True)]


def _lists(
    store: Store, category: np.ndarray, brand: np.ndarray, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A list of up to `size` distinct products of each category (of one brand where `brand` is
    not -1), drawn by popularity: (lists, size) product indices (-1 past a list's end) and each
    list's length."""
    units, categories, brands = (
        rng.random(len(category) * 2 * size),
        np.repeat(category, 2 * size),
        np.repeat(brand, 2 * size),
    )
    candidates = store.draw(categories, units, brands)
    candidates = candidates.reshape(len(category), 2 * size)
    row = np.repeat(np.arange(len(category)), 2 * size)
    _, first = np.unique(row * store.size + candidates.ravel(), return_index=True)
    first.sort()  # each list's distinct products in the order drawn
    rank = np.arange(len(first)) - np.searchsorted(row[first], row[first])
    keep = first[rank < size]
    shown = np.full((len(category), size), -1, dtype=np.int64)
    shown[row[keep], rank[rank < size]] = candidates.ravel()[keep]
    return shown, np.bincount(row[keep], minlength=len(category))


def _first_per_session(
    chosen: np.ndarray, session: np.ndarray, product: np.ndarray, products: int
) -> np.ndarray:
    """`chosen` with only the first choice of each product in each session kept."""
    where = np.flatnonzero(chosen)
    _, first = np.unique(session[where] * products + product[where], return_index=True)
    kept = np.zeros(len(chosen), dtype=bool)
    kept[where[first]] = True
    return kept


class _Pages:
    """The store's pages, numbered: the landing page, a search page per query, a list page per
    category, a page per product, the cart, checkout and order confirmation."""

    def __init__(self, store: Store, titles: dict[str, str], names: dict[str, str]):
        self.store = store
        self.titles = titles  # the view's name of each role that has one
        self.slugs = ["-".join(name.lower().replace("/", " ").split()) for name in store.category_names]
        nouns = [category.nouns for category in store.spec.categories]
        self.query_base = np.cumsum([0] + [len(n) for n in nouns[:-1]])
        self.queries = [noun.lower() for n in nouns for noun in n]
        self.landing = 0
        self._search = 1
        self._category = self._search + len(self.queries)
        self._product = self._category + len(self.slugs)
        self.cart = self._product + store.size
        self.checkout, self.order = self.cart + 1, self.cart + 2
        # the texts messages take from here, made once (a journey's pages are made once per process)
        self.page_properties = np.array(
            [
                orjson.dumps(self.context(page), option=orjson.OPT_SORT_KEYS).decode()
                for page in range(self.order + 1)
            ],
            dtype=object,
        )
        self.screen_properties = np.array(
            [self._screen_properties(page) for page in range(self.order + 1)], dtype=object
        )
        self.count = self.order + 1
        # a page's context cut where its referrer goes, its URL (another page's referrer) and its
        # page call's name, as JSON texts
        cut = [text.split('"referrer":""', 1) for text in self.page_properties.tolist()]
        self.heads = np.array([head + '"referrer":' for head, _ in cut], dtype=object)
        self.tails = np.array([tail for _, tail in cut], dtype=object)
        self.referrers = np.array(
            [orjson.dumps(r).decode() for r in REFERRERS]
            + [orjson.dumps(self.context(page)["url"]).decode() for page in range(self.count)],
            dtype=object,
        )
        self.names = np.array(
            [
                '{"name":' + orjson.dumps(names.get(self.role(page), "")).decode() + ","
                for page in range(self.count)
            ],
            dtype=object,
        )
        self.queries_properties = np.array(
            [orjson.dumps({"query": query}).decode() for query in self.queries], dtype=object
        )
        self.category_texts = (
            np.array([orjson.dumps(name).decode() for name in store.category_names], dtype=object),
            np.array([f'"{slug}"' for slug in self.slugs], dtype=object),
        )

    def role(self, page: int) -> str:
        """The role of the step whose view shows this page."""
        if page >= self.cart:
            return ("cart", "checkout", "order")[page - self.cart]
        if page >= self._product:
            return "product"
        if page >= self._category:
            return "list"
        return "search" if page >= self._search else "landing"

    def referred(self, pages: np.ndarray, referrers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The context.page texts of these pages with these referrers (REFERRERS, then pages), and
        their page calls' properties (the same with the page's name)."""
        contexts = self.heads[pages] + self.referrers[referrers] + self.tails[pages]
        return contexts, self.names[pages] + np.array([text[1:] for text in contexts.tolist()], dtype=object)

    def query_of(self, category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A search query for each category: one of its nouns."""
        counts = np.array([len(c.nouns) for c in self.store.spec.categories])
        return self.query_base[category] + (rng.random(len(category)) * counts[category]).astype(np.int64)

    def search(self, query: np.ndarray) -> np.ndarray:
        return self._search + query

    def category(self, category: np.ndarray) -> np.ndarray:
        return self._category + category

    def product(self, product: np.ndarray) -> np.ndarray:
        return self._product + product

    def context(self, page: int) -> dict:
        """analytics.js's context.page of a page (and the properties of its page call)."""
        if page >= self.cart:
            role, path = [("cart", "/cart"), ("checkout", "/checkout"), ("order", "/checkout/complete")][
                page - self.cart
            ]
            return page_context(path, self.titles.get(role, role.title()), "")
        if page >= self._product:
            product = page - self._product
            return page_context(f"/p/{self.store.sku[product]}", self.store.name[product], "")
        if page >= self._category:
            category = page - self._category
            return page_context(
                f"/c/{self.slugs[category]}", self.store.category_names[category].split("/")[1], ""
            )
        if page >= self._search:
            return page_context(
                "/search",
                self.titles.get("search", "Search"),
                "",
                search="?q=" + quote_plus(self.queries[page - self._search]),
            )
        return page_context("/", self.titles.get("landing", "Home"), "")

    def properties(self, web: bool) -> np.ndarray:
        """Every page's view-call properties, by page number: a page call's are the page's path,
        referrer, search, title and url (as its context.page); a screen call's, what it shows."""
        return self.page_properties if web else self.screen_properties

    def _screen_properties(self, page: int) -> str:
        if self._product <= page < self.cart:
            return orjson.dumps({"product_id": self.store.product_id[page - self._product]}).decode()
        if self._category <= page < self._product:
            return orjson.dumps({"category": self.store.category_names[page - self._category]}).decode()
        if self._search <= page < self._category:
            return orjson.dumps({"query": self.queries[page - self._search]}).decode()
        return "{}"


def pages_of(store: Store, journey: Journey) -> _Pages:
    """The store's pages as a journey names them, made once per process."""
    titles = {
        role: journey.steps[i].event
        for role in ("landing", "search", "cart", "checkout", "order")
        if (i := journey.step_of(role, True)) is not None
    }
    names = {role: journey.steps[i].event for role in ROLES if (i := journey.step_of(role, True)) is not None}
    return store.cached(
        ("pages", tuple(titles.items()), tuple(names.items())), lambda: _Pages(store, titles, names)
    )
