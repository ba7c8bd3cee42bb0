"""Does an interactions dataset hold anything a recommender can learn beyond "most popular"?

Each user's last interaction (by time) is held out; a popularity baseline and an item-to-item
co-occurrence recommender, both trained on the rest, recommend K items a user has not had; their
hit rate, NDCG and catalog coverage at K are compared. A dataset whose items are drawn at random
(the workshop's uniform SKUs) comes out with a ratio near 1: training Personalize on it would
teach it nothing "most popular" does not already know.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np

from toolkit.errors import UsageError

K = 25
MAX_ITEMS = 5_000  # the co-occurrence model keeps the most popular items (a dense float32 square: 100 MB)
MAX_HISTORY = 50  # a user's latest items that count for co-occurrence and scoring
USERS_PER_BLOCK = 2_000
NO_STRUCTURE_BELOW = 1.1  # a co-occurrence / popularity hit-rate ratio under this: nothing to learn


@dataclass
class Scores:
    hit_rate: float
    ndcg: float
    coverage: float


@dataclass
class Evaluation:
    interactions: int
    users: int  # users evaluated: those with 2 or more interactions
    items: int
    k: int
    popularity: Scores
    cooccurrence: Scores
    ratio: float  # co-occurrence hit rate / popularity hit rate
    learnable: bool  # ratio at least NO_STRUCTURE_BELOW and the difference beyond sampling noise
    verdict: str

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_csv(path: str | Path, *, k: int = K) -> Evaluation:
    """Evaluate an interactions CSV (USER_ID, ITEM_ID, TIMESTAMP; other columns ignored): each
    user's last interaction held out, the top `k` of popularity and of co-occurrence compared."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    users, items, times = _load(path)
    return evaluate(users, items, times, int(items.max()) + 1 if len(items) else 0, k)


def _load(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Users and items as dense codes, rows in (user, time) order."""
    connection = duckdb.connect()
    try:
        connection.execute(
            "CREATE TABLE t AS SELECT USER_ID::VARCHAR AS u, ITEM_ID::VARCHAR AS i, "
            "TRY_CAST(TIMESTAMP AS BIGINT) AS ts FROM read_csv($path, header = true, all_varchar = true)",
            {"path": str(path)},
        )
        rows = connection.execute(
            "SELECT dense_rank() OVER (ORDER BY u) - 1 AS u, dense_rank() OVER (ORDER BY i) - 1 AS i, "
            "coalesce(ts, 0) AS ts FROM t ORDER BY u, ts, i"
        ).fetchnumpy()
    except (duckdb.BinderException, duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        raise UsageError(
            f"{path} is not an interactions CSV with USER_ID, ITEM_ID and TIMESTAMP: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    finally:
        connection.close()
    users, items, times = (np.asarray(rows[name], dtype=np.int64) for name in ("u", "i", "ts"))
    return users, items, times


def evaluate(
    users: np.ndarray, items: np.ndarray, times: np.ndarray, item_count: int, k: int = K
) -> Evaluation:
    """Rows sorted by (user, time). The last row of every user with 2+ rows is the held-out one."""
    if len(users) == 0:
        raise UsageError("no interactions to evaluate")
    last = np.r_[users[1:] != users[:-1], True]
    first = np.r_[True, users[1:] != users[:-1]]
    held = last & ~first  # the last interaction of users with at least two
    train = ~held
    test_users, test_items = users[held], items[held]
    if len(test_users) == 0:
        raise UsageError("no user has two or more interactions: nothing can be held out")
    popularity = np.bincount(items[train], minlength=item_count).astype(np.float64)
    kept = np.argsort(-popularity, kind="stable")[: min(MAX_ITEMS, item_count)]  # the items the model knows
    column = np.full(item_count, -1, dtype=np.int64)
    column[kept] = np.arange(len(kept))
    history = _histories(users[train], items[train], column)
    cooccurrence = _cooccurrence(history, len(kept))
    pop_hits, pop_gain, co_hits, co_gain = 0, 0.0, 0, 0.0
    pop_seen: set[int] = set()
    co_seen: set[int] = set()
    for start in range(0, len(test_users), USERS_PER_BLOCK):
        block = test_users[start : start + USERS_PER_BLOCK]
        targets = column[test_items[start : start + USERS_PER_BLOCK]]
        had = _dense(history, block, len(kept))
        scores = had @ cooccurrence
        scores[had > 0] = -np.inf  # recommend what a user has not had
        co_top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        pop_scores = np.broadcast_to(popularity[kept].astype(np.float32), had.shape).copy()
        pop_scores[had > 0] = -np.inf
        pop_top = np.argsort(-pop_scores, axis=1, kind="stable")[:, :k]
        for top, seen in ((co_top, co_seen), (pop_top, pop_seen)):
            seen.update(np.unique(top).tolist())
        co_rank = _rank(co_top, targets)
        pop_rank = _rank(pop_top, targets)
        co_hits += int((co_rank >= 0).sum())
        pop_hits += int((pop_rank >= 0).sum())
        co_gain += float((1.0 / np.log2(co_rank[co_rank >= 0] + 2)).sum())
        pop_gain += float((1.0 / np.log2(pop_rank[pop_rank >= 0] + 2)).sum())
    count = len(test_users)
    popular = Scores(pop_hits / count, pop_gain / count, len(pop_seen) / item_count)
    learned = Scores(co_hits / count, co_gain / count, len(co_seen) / item_count)
    ratio = (
        learned.hit_rate / popular.hit_rate if popular.hit_rate else float("inf") if learned.hit_rate else 1.0
    )
    # two standard errors of the difference of two hit rates over `count` users: below that, noise
    noise = 2 * np.sqrt(
        (learned.hit_rate * (1 - learned.hit_rate) + popular.hit_rate * (1 - popular.hit_rate)) / count
    )
    learnable = ratio >= NO_STRUCTURE_BELOW and learned.hit_rate - popular.hit_rate > noise
    found = f"co-occurrence finds {ratio:.2f}x the held-out items popularity finds ({count:,} users)"
    verdict = (
        f"the data has structure a recommender can learn: {found}"
        if learnable
        else f"no learnable structure beyond popularity: {found}"
    )
    return Evaluation(len(users), count, item_count, k, popular, learned, ratio, bool(learnable), verdict)


def _histories(users: np.ndarray, items: np.ndarray, column: np.ndarray) -> dict[int, np.ndarray]:
    """Each user's latest MAX_HISTORY distinct known items (rows are in time order)."""
    known = column[items] >= 0
    users, items = users[known], column[items[known]]
    bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])
    return {
        int(users[a]): np.unique(items[a:b][-MAX_HISTORY:])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    }


def _cooccurrence(history: dict[int, np.ndarray], size: int) -> np.ndarray:
    """How often two items share a user's history, divided by the square root of both items'
    counts (cosine), the diagonal zero: an item-to-item recommender's whole model."""
    counts = np.zeros((size, size), dtype=np.float32)
    for items in history.values():
        if len(items) > 1:
            counts[np.ix_(items, items)] += 1.0
    occurrences = np.sqrt(np.maximum(np.diag(counts).copy(), 1.0))
    np.fill_diagonal(counts, 0.0)
    return counts / occurrences[:, None] / occurrences[None, :]


def _dense(history: dict[int, np.ndarray], block: np.ndarray, size: int) -> np.ndarray:
    had = np.zeros((len(block), size), dtype=np.float32)
    for row, user in enumerate(block.tolist()):
        items = history.get(user)
        if items is not None:
            had[row, items] = 1.0
    return had


def _rank(top: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Where each row's target sits in its top list (0-based), or -1."""
    match = top == targets[:, None]
    return np.where(match.any(axis=1), match.argmax(axis=1), -1)
