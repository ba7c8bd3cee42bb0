"""A store's generated catalog (a scenario's [store]) and how shoppers draw products from it.

Products are made from the scenario's word lists (brands, adjectives, colours, a noun per
category), from the store's own seed: the catalog is the same on every run, as a store's is.
Popularity is Zipf-like: products are ranked in a shuffled order and the k-th has weight
k ** -popularity_exponent, so a few products take much of the traffic (as eventsim's songs do).
Each product's JSON pieces are made once, so a message's properties are joined, not encoded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import orjson


@dataclass(frozen=True)
class Category:
    name: str  # two levels: "Clothing/Tops"
    nouns: tuple[str, ...]
    price: tuple[float, float]


@dataclass(frozen=True)
class StoreSpec:
    """[store]: how many products, from which words, and how popularity falls off."""

    seed: int
    products: int
    popularity_exponent: float
    created: tuple[date, date]
    currency: str
    brands: tuple[str, ...]
    adjectives: tuple[str, ...]
    colors: tuple[str, ...]
    categories: tuple[Category, ...]
    totals: Totals | None = None  # the order totals the store sends (none without them)


@dataclass(frozen=True)
class Totals:
    """[store.totals]: what an order adds to its lines (spec v2 Order Completed's subtotal, tax,
    shipping, discount, coupon and total)."""

    tax_rate: float = 0.0  # of the subtotal
    shipping: float = 0.0  # a flat shipping fee...
    free_shipping_over: float | None = None  # ...waived from this subtotal on
    coupon: str | None = None  # a coupon code shoppers use...
    coupon_chance: float = 0.0  # ...on this share of orders...
    coupon_discount: float = 0.0  # ...taking this share off the lines


@dataclass(frozen=True)
class Personas:
    """[personas]: each user prefers 1-3 categories (drawn by the categories' popularity) and browses
    in them with chance `affinity`, a list of those being of one of their favourite brands with
    chance `brand_affinity`; their price sensitivity (0 to 1) lowers the chance they add an
    expensive product to their cart."""

    categories: tuple[int, int] = (1, 3)
    affinity: float = 0.85
    brands: tuple[int, int] = (1, 2)
    brand_affinity: float = 0.4
    price_sensitivity: tuple[float, float] = (0.0, 1.0)


_DERIVED: dict[StoreSpec, dict] = {}  # Store.cached's tables, per store spec


@dataclass
class Store:
    """The catalog as columns, products grouped by category; `weight` is each product's popularity."""

    spec: StoreSpec
    product_id: list[str]
    sku: list[str]
    name: list[str]
    brand: list[str]
    category: np.ndarray  # index into spec.categories
    brand_index: np.ndarray  # index into spec.brands
    price: np.ndarray
    created: list[str]
    weight: np.ndarray

    def __getstate__(self) -> dict:
        """Pickled (to generate's workers) without the reference to this process's tables."""
        return {name: value for name, value in self.__dict__.items() if name != "_derived"}

    def cached(self, key, make):
        """What make() gives, made once per process for this store (tables derived from it), kept
        by the store's spec: a store is a function of its spec (build_store), and generate's
        workers get a new copy of it with each batch of shards."""
        kept = self.__dict__.get("_derived")
        if kept is None:  # hashing the spec each time would cost more than some of the tables
            kept = self.__dict__["_derived"] = _DERIVED.setdefault(self.spec, {})
        if key not in kept:
            kept[key] = make()
        return kept[key]

    @property
    def size(self) -> int:
        return len(self.product_id)

    @property
    def category_names(self) -> list[str]:
        return [c.name for c in self.spec.categories]

    def category_weights(self) -> tuple[float, ...]:
        """Each category's share of popularity."""

        def make() -> tuple[float, ...]:
            totals = np.bincount(self.category, weights=self.weight, minlength=len(self.spec.categories))
            return tuple((totals / totals.sum()).tolist())

        return self.cached("category_weights", make)

    def price_rank(self) -> np.ndarray:
        """Each product's price as a fraction of its category's price range (0 cheapest, 1 dearest)."""

        def make() -> np.ndarray:
            low = np.array([c.price[0] for c in self.spec.categories])[self.category]
            high = np.array([c.price[1] for c in self.spec.categories])[self.category]
            return (self.price - low) / np.maximum(high - low, 1e-9)

        return self.cached("price_rank", make)

    def draw(self, categories: np.ndarray, units: np.ndarray, brands: np.ndarray | None = None) -> np.ndarray:
        """A product of each given category (and brand, where one is given, not -1, and the
        category has products of it), by popularity: units are uniform draws in [0, 1)."""
        chosen = np.minimum(
            np.searchsorted(self._cumulative(False), categories + units, side="right"), self.size - 1
        )
        if brands is None:
            return chosen
        mine = np.flatnonzero(brands >= 0)
        groups = categories[mine] * len(self.spec.brands) + brands[mine]
        branded = np.minimum(
            np.searchsorted(self._cumulative(True), groups + units[mine], side="right"), self.size - 1
        )
        chosen[mine] = np.where(
            self._group(True)[branded] == groups, branded, chosen[mine]
        )  # a brand the category lacks: any of the category
        return chosen

    def _group(self, by_brand: bool) -> np.ndarray:
        return self.category * len(self.spec.brands) + self.brand_index if by_brand else self.category

    def _cumulative(self, by_brand: bool) -> np.ndarray:
        """Popularity accumulated within each category (or category and brand), shifted by the
        group's number: group g spans (g, g + 1], so one searchsorted draws within any group.
        Products are sorted by category, then brand, so each group is contiguous."""

        def make() -> np.ndarray:
            group = self._group(by_brand)
            cumulative = np.empty(self.size)
            bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                cumulative[a:b] = group[a] + np.cumsum(self.weight[a:b]) / self.weight[a:b].sum()
            return cumulative

        return self.cached(("cumulative", by_brand), make)

    def rows(self) -> list[dict]:
        """The catalog export: one mapping a product."""
        names = self.category_names
        return [
            {
                "product_id": pid,
                "sku": sku,
                "name": name,
                "brand": brand,
                "category": names[c],
                "price": price,
                "created_at": created,
            }
            for pid, sku, name, brand, c, price, created in zip(
                self.product_id,
                self.sku,
                self.name,
                self.brand,
                self.category.tolist(),
                self.price.tolist(),
                self.created,
                strict=True,
            )
        ]

    def texts(self, kind: str, count: int = 1) -> np.ndarray:
        """Each product's spec v2 fields as JSON object text, keys sorted, made once per process:
        kind "product" (brand, category, name, price, product_id, sku), "line" (a cart's line:
        and quantity 1 to `count`, at product * count + quantity - 1) or "listed" (a list's entry:
        and position 1 to `count`, at product * count + position - 1)."""

        def make() -> np.ndarray:
            head, middle, tail = self.cached("pieces", self._pieces)
            numbers = np.arange(1, count + 1).astype(str).astype(object)
            if kind == "product":
                return head + "," + middle + tail
            if kind == "line":
                return (
                    (head + "," + middle)[:, None] + (',"quantity":' + numbers)[None, :] + tail[:, None]
                ).ravel()
            return (
                head[:, None] + (',"position":' + numbers + ",")[None, :] + (middle + tail)[:, None]
            ).ravel()

        return self.cached((kind, count), make)

    def _pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each product's JSON in three pieces, between which a position or quantity goes:
        '{"brand":..,"category":..,"name":..' | '"price":..,"product_id":..' | ',"sku":..}'."""
        names = self.category_names
        head = [
            orjson.dumps({"brand": b, "category": names[c], "name": n}).decode()[:-1]
            for b, c, n in zip(self.brand, self.category.tolist(), self.name, strict=True)
        ]
        middle = [
            orjson.dumps({"price": p, "product_id": i}).decode()[1:-1]
            for p, i in zip(self.price.tolist(), self.product_id, strict=True)
        ]
        tail = ["," + orjson.dumps({"sku": s}).decode()[1:] for s in self.sku]
        return np.array(head, dtype=object), np.array(middle, dtype=object), np.array(tail, dtype=object)


def build_store(spec: StoreSpec) -> Store:
    """The catalog a [store] describes: the same spec always gives the same products, sorted by
    category and brand."""
    rng = random.Random(spec.seed)
    weights = np.arange(1, spec.products + 1, dtype=np.float64) ** -spec.popularity_exponent
    rng.shuffle(rank := list(range(spec.products)))
    days = (spec.created[1] - spec.created[0]).days
    made, taken = [], set()
    for number in range(spec.products):
        category = number % len(spec.categories)
        brand = rng.randrange(len(spec.brands))
        nouns, (low, high) = spec.categories[category].nouns, spec.categories[category].price
        adjective, color, noun = rng.choice(spec.adjectives), rng.choice(spec.colors), rng.choice(nouns)
        name = f"{spec.brands[brand]} {adjective} {color} {noun}"
        sku = "-".join(name.lower().replace("'", "").replace(".", "").replace("&", "and").split())
        while sku in taken:  # the same words twice: a second colourway, numbered
            sku = f"{sku}-{rng.randint(2, 99)}"
        taken.add(sku)
        price = round(rng.uniform(low, high)) - 0.01 if high - low >= 2 else round(rng.uniform(low, high), 2)
        moment = datetime.combine(spec.created[0], datetime.min.time(), UTC) + timedelta(
            days=rng.randint(0, days), seconds=rng.randint(0, 86_399)
        )
        product_id = str(100_000 + 37 * number + rng.randint(0, 36))
        made.append(
            (
                category,
                brand,
                product_id,
                sku,
                name,
                price,
                moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                weights[rank[number]],
            )
        )
    made.sort(key=lambda product: (product[0], product[1], product[2]))
    categories, brands, ids, skus, names, prices, created, popularity = (
        list(column) for column in zip(*made, strict=True)
    )
    return Store(
        spec,
        ids,
        skus,
        names,
        [spec.brands[b] for b in brands],
        np.array(categories),
        np.array(brands),
        np.array(prices),
        created,
        np.array(popularity),
    )
