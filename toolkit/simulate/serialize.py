"""Turn a shard's event columns into Segment log lines, grouped into the files Segment would write.

numpy draws the numbers (ids, delays, choices) and writes the timestamps' text; DuckDB lays out
each message's JSON as message_shape.py describes it, reading few-valued texts as Arrow
dictionaries (Coded) and what a user's messages share from a first SELECT a user; the lines come
back as one Arrow buffer, so no Python object is made per message. Tests re-parse every line.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from toolkit.segment.ids import derive_seed
from toolkit.segment.layout import ARCHIVER_QUEUE_MS, ARCHIVERS, CONTINUOUS, HOURLY, file_slot
from toolkit.segment.libraries import LIBRARIES, SITE, Library, page_context, page_of_title
from toolkit.segment.timestamps import DAY_MS
from toolkit.simulate.coded import Coded
from toolkit.simulate.columns import distinct_codes
from toolkit.simulate.delivery import deliver
from toolkit.simulate.devices import user_variants
from toolkit.simulate.draws import as_uuid4, uuid_texts
from toolkit.simulate.engine import SimulatedShard, Users
from toolkit.simulate.message_shape import (
    ad_tracking,
    call_members,
    device_context_pieces,
    id_words,
    landing_pages,
    line_sql,
    server_context,
    user_sql,
)
from toolkit.simulate.scenario import IDENTIFY, Scenario
from toolkit.simulate.seed_memo import MEMO
from toolkit.simulate.timestamp_text import iso_millis_bytes
from toolkit.simulate.values import json_objects

TIME_COLUMNS = ("t_orig", "t_sent", "t_recv", "t_stamp")  # epoch ms, laid out as Segment's text


@dataclass
class ShardRows:
    """A shard's messages and users as columns for the SELECTs that lay them out, and its files'
    row ranges."""

    columns: dict  # a row a message
    user_rows: np.ndarray  # each message's user: their row in user_columns
    user_columns: dict  # a row a user of the shard
    duplicates: int  # rows that deliver a message a second time
    sql: tuple[str, str]  # the users' SELECT, the messages' SELECT
    files: list[
        tuple[str, int, int, int, int]
    ]  # (source key, received day epoch ms, file slot (layout.file_slot), first row, end row)

    @property
    def rows(self) -> int:
        return self.files[-1][4] if self.files else 0


def render_files(shards: list[ShardRows]) -> list[list[tuple[str, int, int, list[memoryview]]]]:
    """Each shard's files as (source key, received day epoch ms, slot, content in pieces), laying
    out shards that share their SELECT (a platform's) in one query: a query costs ~15 ms to set up."""
    result: list = [None] * len(shards)
    by_sql: dict[tuple[str, str], list[int]] = {}
    for index, shard in enumerate(shards):
        by_sql.setdefault(shard.sql, []).append(index)
    for sql, indices in by_sql.items():
        first_user = np.cumsum([0] + [_length(shards[i].user_columns) for i in indices[:-1]])
        user_rows = np.concatenate(
            [shards[i].user_rows + offset for i, offset in zip(indices, first_user, strict=True)]
        )
        columns = {
            name: _concatenated([shards[i].columns[name] for i in indices])
            for name in shards[indices[0]].columns
        }
        user_columns = {
            name: _concatenated([shards[i].user_columns[name] for i in indices])
            for name in shards[indices[0]].user_columns
        }
        lines = _render(columns, user_rows, user_columns, *sql)
        offset = 0
        for i in indices:
            result[i] = [
                (key, day, slot, _text_of_rows(lines, offset + a, offset + b))
                for key, day, slot, a, b in shards[i].files
            ]
            offset += shards[i].rows
    return result


def _length(columns: dict) -> int:
    column = next(iter(columns.values()))
    return len(column.codes if isinstance(column, Coded) else column)


def _concatenated(parts: list):
    if len(parts) == 1:  # a shard on its own: no copy
        return parts[0]
    return Coded.concatenated(parts) if isinstance(parts[0], Coded) else np.concatenate(parts)


def shard_rows(simulated: SimulatedShard, write_keys: dict[str, str], cadence: str = HOURLY) -> ShardRows:
    """Draw everything a simulated shard's messages say besides what it holds (delays, ids,
    delivery), in file order; files cut at the S3 destination's `cadence` (layout.CADENCES)."""
    scenario: Scenario = simulated.scenario
    events, rng, users = simulated.events, simulated.rng, simulated.users
    sources = [scenario.sources[key] for key in simulated.source_keys]
    libraries = [LIBRARIES[s.library] for s in sources]
    platform = LIBRARIES[sources[simulated.platform_index].library]

    def per_source(values: list, source: np.ndarray) -> np.ndarray:
        return np.array(values, dtype=object if isinstance(values[0], str) else None)[source]

    # When each message is made, sent and received, and the rows a retried request adds (delivery.py)
    delivered = deliver(
        user=events["user"],
        source=events["source"],
        time=events["time"],
        user_words=users.words[0],
        libraries=[lib.name for lib in libraries],
        source_keys=simulated.source_keys,
        delivery=scenario.delivery,
        rng=rng,
    )
    received = delivered.received
    n = len(received)
    day = received - received % DAY_MS
    # Files are (source, received day, slot), lines in the order they reached the writer: from
    # here on, in that order (continuous: each line goes to one of the archivers, a queue later)
    source = events["source"][delivered.event]
    arrival = received
    worker = np.zeros(n, dtype=np.int64)
    if cadence == CONTINUOUS:  # a generator of its own: the same messages whatever the cadence
        archivers = np.random.default_rng(derive_seed(simulated.shard.seed, "archivers"))
        worker = archivers.integers(0, ARCHIVERS, n)
        arrival = received + archivers.integers(0, ARCHIVER_QUEUE_MS, n)
    slot = file_slot(cadence, received, worker)
    order = np.lexsort((np.arange(n), arrival, slot, day, source))
    event = delivered.event[order]
    user, source, step, identified, properties, page = (
        events[name][event] for name in ("user", "source", "step", "identified", "properties", "page")
    )
    received, day, slot = received[order], day[order], slot[order]
    identify = step == IDENTIFY
    is_platform = source == simulated.platform_index
    device_identified = _device_identified(simulated, user, events["time"][event], identify & is_platform)
    cache = _traits_cache(simulated, platform, user, device_identified) if platform.traits_cache else None
    if cache is not None:  # identify's traits are what the library caches
        traits = Coded(np.where(identify, cache.codes, 0), cache.texts)
    else:
        codes = np.zeros(n, dtype=np.int64)
        codes[identify] = np.arange(1, int(identify.sum()) + 1)
        traits = Coded(codes, [""] + _identify_traits(simulated, user[identify]).tolist())
    context_pieces = device_context_pieces(simulated.shard.run_seed, simulated.platform, platform.name)
    present, user_rows = distinct_codes(
        user, len(users.seeds)
    )  # the users with messages, each message's among them
    user_columns, variant = _user_columns(simulated, platform, context_pieces, present)
    columns = {
        "t_orig": delivered.original[order],
        "t_sent": delivered.sent[order],
        "t_recv": received,
        "t_stamp": delivered.stamp[order],
        "source": source,
        "is_identify": identify,
        "is_platform": is_platform,
        "identified": identified,
        "device_identified": device_identified,
        "null_user_id": per_source([lib.null_user_id for lib in libraries], source),
        **{
            name: Coded(np.where(identify, len(simulated.steps), step), texts)
            for name, texts in call_members(simulated.steps, platform).items()
        },
        "properties": Coded(properties, simulated.property_texts),  # "" on identify messages (code 0)
        "traits": traits,  # "" (code 0) but on identify messages
    }
    server = [
        server_context(
            scenario.sources[key].library, simulated.shard.run_seed, key, scenario.context_ip is not None
        )
        for key in simulated.source_keys
    ]
    for i in range(2):
        columns[f"server_{i}"] = Coded(source, [pieces_of_server[i] for pieces_of_server in server])
    if cache is not None:
        columns["traits_cache"] = cache
    if platform.per_message_page:
        _page_columns(columns, simulated, variant[user_rows], columns["properties"], page)
    # a repeat carries the messageId of the message it delivers again
    message_words = rng.integers(0, 1 << 64, (2, len(events["user"])), dtype=np.uint64)[:, event]
    id_words(columns, "message_id", per_source([lib.message_id for lib in libraries], source), *message_words)
    keys = np.stack([source, day, slot], axis=1)
    starts = (
        np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)]) if n else np.zeros(0, dtype=np.int64)
    )
    ends = np.r_[starts[1:], n]
    files = [
        (simulated.source_keys[keys[a, 0]], int(keys[a, 1]), int(keys[a, 2]), int(a), int(b))
        for a, b in zip(starts, ends, strict=True)
    ]
    server_ip = scenario.context_ip is not None
    sql = (
        user_sql(platform, context_pieces.shape[1], server_ip, "ip_1" in user_columns),
        line_sql(platform, sources, libraries, write_keys, context_pieces.shape[1]),
    )
    return ShardRows(columns, user_rows, user_columns, delivered.repeats, sql, files)


def _user_columns(
    simulated: SimulatedShard, platform: Library, pieces: np.ndarray, present: np.ndarray
) -> tuple[dict, np.ndarray]:
    """What each of the `present` users says the same in all their messages, for the users'
    SELECT: their ids' words, ip, userId and the pieces of their device variant's context (the
    platform's, chosen by their word). Returns them and each one's variant."""
    users, shard = simulated.users, simulated.shard
    words = users.words[:, present]
    variant = user_variants(words[1])
    columns = {f"context_{i}": Coded(variant, list(pieces[:, i])) for i in range(pieces.shape[1])}
    columns["user_id"] = users.user_ids(simulated.scenario.user_id_digits)[present]
    ips = simulated.ips
    if isinstance(ips[0], str):
        columns["ip"] = np.array(ips, dtype=object)[present]
    else:
        for i, octet in enumerate(ips, start=1):
            columns[f"ip_{i}"] = octet[present]
    if platform.advertising_when_tracking:
        columns["ad_tracking"] = ad_tracking(shard.run_seed, shard.platform, platform.name)[variant]
    id_words(columns, "anonymous_id", platform.anonymous_id, words[2], words[3])
    # a platform has at most two device ids: zip pairs each with its words and stops at the last
    for (field, kind), (high, low) in zip(
        platform.device_ids.items(), ((words[4], words[5]), (words[6], words[7])), strict=False
    ):
        if field == "id" and platform.device_id_is_anonymous_id:
            high, low = words[2], words[3]
        id_words(columns, f"device_{field}", kind, high, low)
    if platform.instance_id:  # a new one each day the app starts
        id_words(
            columns,
            "instance_id",
            platform.instance_id,
            words[9] ^ np.uint64(derive_seed(shard.run_seed, "instance", str(shard.day))),
            words[10],
        )
    return columns, variant


def _identify_traits(simulated: SimulatedShard, users: np.ndarray) -> np.ndarray:
    """The traits object of each user's identify (kept per process: see seed_memo)."""
    return MEMO.texts(
        ("identify", simulated.traits_key),
        simulated.users.seeds[users],
        lambda seeds: json_objects(simulated.trait_fields(seeds), len(seeds)),
    )


def _device_identified(
    simulated: SimulatedShard, user: np.ndarray, time: np.ndarray, identify: np.ndarray
) -> np.ndarray:
    """Whether each message's device had identified its user when it was made: a returning user on
    the platform they registered on, or a message after the device's first identify of the day
    (the identify itself included; a message made at the same instant before it is not)."""
    shard = simulated.shard
    number = [source.key for source in simulated.scenario.platforms].index(shard.platform)
    registered_here = np.zeros(len(simulated.users.seeds), dtype=bool)
    registered_here[len(shard.progress) :] = shard.returning_platform == number
    first = np.full(len(registered_here), np.iinfo(np.int64).max)
    np.minimum.at(first, user[identify], time[identify])
    return registered_here[user] | (time > first[user]) | identify


def _traits_cache(simulated: SimulatedShard, library: Library, user: np.ndarray, known: np.ndarray) -> Coded:
    """What a traits-caching library (analytics-android, -ios) sends once its device has identified
    the user, in context.traits and identify's traits: every identify trait, anonymousId and userId;
    code 0 (unused) for messages before."""
    identified, place = distinct_codes(user[known], len(simulated.users.seeds))
    codes = np.zeros(len(user), dtype=np.int64)
    codes[known] = 1 + place
    digits = simulated.scenario.user_id_digits

    def make(seeds: np.ndarray) -> np.ndarray:
        users = Users(seeds)
        high, low = as_uuid4(users.words[2], users.words[3])
        anonymous = [f'"{text}"' for text in uuid_texts(high, low)]
        if library.anonymous_id == "UUID":
            anonymous = [text.upper() for text in anonymous]
        user_ids = [f'"{user_id}"' for user_id in users.user_ids(digits).tolist()]
        return json_objects(
            {**simulated.trait_fields(seeds), "anonymousId": anonymous, "userId": user_ids}, len(seeds)
        )

    texts = MEMO.texts(
        ("traits cache", simulated.traits_key, library.anonymous_id, digits),
        simulated.users.seeds[identified],
        make,
    )
    return Coded(codes, [""] + texts.tolist())


def _page_columns(
    columns: dict, simulated: SimulatedShard, variant: np.ndarray, properties: Coded, given: np.ndarray
) -> None:
    """analytics.js's context.page and context.campaign of each message: the page it was made on.
    That is the page given with the event (a session's), else the page its properties name (the
    source's page_property: a page_name of "Search" is /search), else the user's landing page,
    whose campaign (UTM) parameters give context.campaign."""
    shard = simulated.shard
    landing = landing_pages(
        shard.run_seed, shard.platform, simulated.scenario.sources[shard.platform].library
    )
    named = simulated.scenario.sources[shard.platform].page_property
    titles = (
        [orjson.loads(text).get(named) if text else None for text in properties.texts]
        if named
        else [None] * len(properties.texts)
    )
    distinct = sorted({str(t) for t in titles if t is not None})
    page_of_text = np.array([-1 if t is None else distinct.index(str(t)) for t in titles], dtype=np.int64)
    on_page = page_of_text[properties.codes]
    codes = np.where(on_page >= 0, len(landing) + on_page, variant)
    codes = np.where(given >= 0, len(landing) + len(distinct) + given, codes)
    pages = (
        [page for page, _ in landing]
        + [
            orjson.dumps(
                page_context(*page_of_title(title), SITE + "/"), option=orjson.OPT_SORT_KEYS
            ).decode()
            for title in distinct
        ]
        + simulated.pages
    )
    campaigns = [campaign for _, campaign in landing] + [""] * (len(distinct) + len(simulated.pages))
    columns["page"] = Coded(codes, pages)
    columns["campaign"] = Coded(codes, campaigns)


def _fixed_width_text(rows: np.ndarray) -> pa.LargeStringArray:
    """An (n, width) uint8 array of ASCII as an Arrow string column, without copying."""
    count, width = rows.shape
    offsets = np.arange(0, (count + 1) * width, width, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        count, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows))
    )


def _arrow_column(name: str, column) -> pa.Array:
    if isinstance(column, Coded):
        return column.to_arrow()
    if name in TIME_COLUMNS:
        return _fixed_width_text(iso_millis_bytes(column))
    return pa.array(column)


@functools.cache
def _connection(process_id: int) -> duckdb.DuckDBPyConnection:
    """One connection per process (opening one costs tens of milliseconds); keyed by process id
    so that a forked worker never uses its parent's."""
    return duckdb.connect(config={"threads": 1})


def _render(
    columns: dict, user_rows: np.ndarray, user_columns: dict, user_sql: str, line_sql: str
) -> pa.ChunkedArray:
    """Lay out the users' texts (a row a user), then the lines, each message reading its user's
    texts as an Arrow dictionary (codes: user_rows)."""
    connection = _connection(os.getpid())
    users = pa.table({name: _arrow_column(name, column) for name, column in user_columns.items()})
    connection.register("users", users)
    try:
        user_texts = connection.sql(user_sql).to_arrow_table()
    finally:
        connection.unregister("users")
    rows = pa.array(user_rows, pa.int32())
    events = pa.table(
        {
            **{name: _arrow_column(name, column) for name, column in columns.items()},
            **{
                name: pa.DictionaryArray.from_arrays(rows, user_texts.column(name).combine_chunks())
                for name in user_texts.column_names
            },
        }
    )
    connection.register("events", events)
    try:
        return connection.sql(line_sql).to_arrow_table().column("line")
    finally:
        connection.unregister("events")


def _text_of_rows(lines: pa.ChunkedArray, start: int, end: int) -> list[memoryview]:
    """The UTF-8 text of rows [start, end) of a string column: views of Arrow's buffers, no copy."""
    pieces = []
    chunk_start = 0
    for chunk in lines.chunks:
        chunk_end = chunk_start + len(chunk)
        low, high = max(start, chunk_start), min(end, chunk_end)
        if low < high:
            offsets_buffer, data = chunk.buffers()[1], chunk.buffers()[2]
            offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            offsets = np.frombuffer(offsets_buffer, dtype=offset_type)
            first, last = (
                offsets[chunk.offset + low - chunk_start],
                offsets[chunk.offset + high - chunk_start],
            )
            pieces.append(memoryview(data)[first:last])
        chunk_start = chunk_end
    return pieces
