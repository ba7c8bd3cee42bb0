"""What a Segment message looks like, as the SQL that lays it out from a shard's columns.

A message is one JSON object, keys sorted as Segment's S3 destination stores them:

    {"_metadata" (analytics.js), "anonymousId", "channel", "context", "event" (tracks),
     "integrations", "messageId", "name" (page and screen calls), "originalTimestamp",
     "projectId", "properties" (but identify), "receivedAt", "sentAt", "timestamp",
     "traits" (identify), "type", "userId" (when identified; null on some libraries),
     "version", "writeKey" (but analytics.js's)}

A library's context comes from its template (segment/libraries.py) as JSON, cut at its
placeholders: the values that are a user's own (ids, ip, advertisingId) are laid out once a user
(user_sql), those that change from message to message (PER_MESSAGE) once a message (line_sql).
Ids are formatted in SQL from two 64-bit words (id_words, id_sql). Every piece of text is either
JSON-escaped by orjson beforehand or only digits and hex, so each line is valid JSON.
"""

from __future__ import annotations

import functools
import itertools
import random

import numpy as np
import orjson

from toolkit.segment.ids import derive_seed
from toolkit.segment.libraries import LIBRARIES, OPTIONAL_MEMBERS, PLACEHOLDER, Library
from toolkit.simulate.devices import device_contexts
from toolkit.simulate.draws import as_uuid4

_TOP_BIT = np.uint64(1 << 63)


def id_sql(kind: str, group: str) -> str:
    """SQL text of an id in one of the libraries' formats (libraries.ID_FORMATS), from the
    columns <group>_hi and <group>_lo (see id_words). DuckDB's UUID and hex() formatting are
    native, so this costs well under a microsecond a row."""
    both = f"(({group}_hi::UHUGEINT << 64) | {group}_lo::UHUGEINT)"
    return {
        "uuid": f"{both}::UUID::VARCHAR",
        "UUID": f"upper({both}::UUID::VARCHAR)",
        "hex16": f"lower(hex({group}_hi))",
        "sha256": f"sha256(concat({group}_hi, ':', {group}_lo))",
        "ajs": f"concat('ajs-next-', lower(hex({both})))",
    }[kind]


def id_words(columns: dict, group: str, kind: str | np.ndarray, high: np.ndarray, low: np.ndarray) -> None:
    """The two words of an id group, shaped for id_sql: UUIDs get their version and variant
    bits; hex ids get their top bit set so that hex() gives every digit (it does not pad)."""
    is_uuid = np.isin(kind, ("uuid", "UUID"))
    uuid_high, uuid_low = as_uuid4(high, low)
    columns[f"{group}_hi"] = np.where(is_uuid, uuid_high, high | _TOP_BIT)
    columns[f"{group}_lo"] = np.where(is_uuid, uuid_low, low)


def call_members(steps: list, library: Library) -> dict[str, list[str]]:
    """What makes a message a track, page or screen call, a text for each step and "" after them
    (identify, which line_sql lays out itself): its "event" member, its "name" member (a view's
    name, which sorts after messageId) and its "type" member."""

    def texts(of) -> list[str]:
        return [of(step) for step in steps] + [""]

    return {
        "event_member": texts(lambda s: "" if s.view else ',"event":' + orjson.dumps(s.event).decode()),
        "name_member": texts(lambda s: ',"name":' + orjson.dumps(s.event).decode() if s.view else ""),
        "type_member": texts(lambda s: f',"type":"{library.view_call if s.view else "track"}"'),
        "category_member": texts(lambda s: ',"category":""' if s.view and library.screen_category else ""),
    }


PER_MESSAGE = ("traits", "page", "campaign")  # context values that differ between one user's messages


def user_sql(platform: Library, pieces: int, server_ip: bool, octets: bool) -> str:
    """The SELECT that lays out, one row a user, what their messages share: the anonymousId, the
    userId member, the context.ip of server messages and the runs of the platform's context
    between the values that differ from message to message (PER_MESSAGE)."""
    ip = "ip" if not octets else "concat('\"', ip_1, '.', ip_2, '.', ip_3, '.', ip_4, '\"')"
    values = {
        "ip": ip,
        **{
            field: f"""concat('"', {id_sql(kind, f"device_{field}")}, '"')"""
            for field, kind in platform.device_ids.items()
        },
    }
    if platform.instance_id:
        values["instanceId"] = f"""concat('"', {id_sql(platform.instance_id, "instance_id")}, '"')"""
    if "advertisingId" in platform.device_ids:  # an optional member: the whole "key":value, or nothing
        member = f"""concat('"advertisingId":', {values["advertisingId"]}, ',')"""
        values["advertisingId"] = (
            f"CASE WHEN ad_tracking THEN {member} ELSE '' END"
            if platform.advertising_when_tracking
            else member
        )
    runs = [["context_0"]]
    for i, name in enumerate(placeholders(platform.name)[: pieces - 1], start=1):
        if name in PER_MESSAGE:
            runs.append([])
        else:
            runs[-1].append(values[name])
        runs[-1].append(f"context_{i}")
    outputs = [
        f"{id_sql(platform.anonymous_id, 'anonymous_id')} AS anonymous",
        """concat(',"userId":"', user_id, '"') AS user_id_member""",
        f"{ip if server_ip else chr(39) * 2} AS server_ip",
        *(f"concat({', '.join(run)}) AS context_run_{k}" for k, run in enumerate(runs)),
    ]
    return f"SELECT {', '.join(outputs)} FROM users"


def line_sql(
    platform: Library, sources: list, libraries: list[Library], write_keys: dict[str, str], pieces: int
) -> str:
    """The SELECT that lays out one message a row, keys in sorted order, from the messages'
    columns and their user's texts (user_sql's outputs)."""
    before = {"anonymousId": """concat('{"anonymousId":"', anonymous, '"}')""", "empty": "'{}'"}
    values = {
        "traits": f"CASE WHEN device_identified THEN traits_cache ELSE {before[platform.traits_cache]} END"
        if platform.traits_cache
        else "''",
        "page": "page",
        "campaign": "campaign",
    }
    context_parts = ["context_run_0"]
    per_message = [name for name in placeholders(platform.name)[: pieces - 1] if name in PER_MESSAGE]
    for k, name in enumerate(per_message, start=1):
        context_parts += [values[name], f"context_run_{k}"]
    server_parts = ["server_0", "server_ip", "server_1"]
    # the platform's pieces or the server's, side by side in the one concat (a concat within it
    # would copy them twice)
    context = ", ".join(
        f"CASE WHEN is_platform THEN {mine} ELSE {theirs} END"
        for mine, theirs in itertools.zip_longest(context_parts, server_parts, fillvalue="''")
    )

    def by_source(texts: list[str]) -> str:
        return "CASE source " + " ".join(f"WHEN {i} THEN '{text}'" for i, text in enumerate(texts)) + " END"

    metadata = by_source(
        [
            orjson.dumps(lib.metadata, option=orjson.OPT_SORT_KEYS).decode().join(('"_metadata":', ","))
            if lib.metadata
            else ""
            for lib in libraries
        ]
    )
    channel = by_source([lib.channel for lib in libraries])
    message_id = " ".join(
        f"WHEN {i} THEN {id_sql(lib.message_id, 'message_id')}" for i, lib in enumerate(libraries)
    )
    project_id = by_source([s.id for s in sources])
    write_key = by_source(
        [
            f',"writeKey":"{write_keys[s.key]}"' if lib.stored_write_key else ""
            for s, lib in zip(sources, libraries, strict=True)
        ]
    )
    return f"""SELECT concat(
        '{{', {metadata}, '"anonymousId":"', anonymous, '"', category_member, ',"channel":"', {channel},
        '","context":', {context},
        event_member,
        ',"integrations":{{}},"messageId":"', CASE source {message_id} END,
        '"', name_member, ',"originalTimestamp":"', t_orig, '","projectId":"', {project_id}, '"',
        CASE WHEN is_identify THEN '' ELSE ',"properties":' END, properties,
        ',"receivedAt":"', t_recv, '","sentAt":"', t_sent, '","timestamp":"', t_stamp, '"',
        CASE WHEN is_identify THEN ',"traits":' ELSE '' END, traits,
        CASE WHEN is_identify THEN ',"type":"identify"' ELSE type_member END,
        CASE WHEN identified THEN user_id_member WHEN null_user_id THEN ',"userId":null' ELSE '' END,
        ',"version":2', {write_key}, '}}', chr(10)) AS line
    FROM events"""


def _token(name: str) -> str:
    """Where a placeholder sits in a template: its quoted text, or for an optional member the
    whole member with its comma (the member is then written whole, or left out)."""
    quoted = f'"{PLACEHOLDER.format(name)}"'
    return f'"{name}":{quoted},' if name in OPTIONAL_MEMBERS else quoted


@functools.cache
def placeholders(library_name: str) -> list[str]:
    """The per-user and per-message values a library's context holds, in the order they appear in its JSON."""
    library = LIBRARIES[library_name]
    template = orjson.dumps(
        library.context_template(library.context(random.Random(0))), option=orjson.OPT_SORT_KEYS
    ).decode()
    names = ["ip", "traits", *library.device_ids, "instanceId", "page", "campaign"]
    return sorted(
        (name for name in names if _token(name) in template), key=lambda name: template.index(_token(name))
    )


def split_template(template: str, names: list[str]) -> list[str]:
    """Cut a JSON template at its placeholders (in `names` order): the texts between them."""
    pieces, rest = [], template
    for name in names:
        head, rest = rest.split(_token(name), 1)
        pieces.append(head)
    return pieces + [rest]


@functools.cache
def device_context_pieces(run_seed: int, platform: str, library_name: str) -> np.ndarray:
    """Each shared context cut at its placeholders: computed once per process."""
    library = LIBRARIES[library_name]
    templates = [
        orjson.dumps(library.context_template(shared), option=orjson.OPT_SORT_KEYS).decode()
        for shared in device_contexts(run_seed, platform, library_name)
    ]
    return np.array(
        [split_template(template, placeholders(library_name)) for template in templates], dtype=object
    )


@functools.cache
def ad_tracking(run_seed: int, platform: str, library_name: str) -> np.ndarray:
    """Whether each device variant has ad tracking enabled (and so sends its advertisingId)."""
    return np.array(
        [
            bool(shared["device"].get("adTrackingEnabled"))
            for shared in device_contexts(run_seed, platform, library_name)
        ]
    )


@functools.cache
def landing_pages(run_seed: int, platform: str, library_name: str) -> list[tuple[str, str]]:
    """Each web variant's landing page as JSON, and its campaign member ("" without UTM parameters)."""
    pages = []
    for shared in device_contexts(run_seed, platform, library_name):
        campaign = shared.get("campaign")
        member = (
            ""
            if campaign is None
            else '"campaign":' + orjson.dumps(campaign, option=orjson.OPT_SORT_KEYS).decode() + ","
        )
        pages.append((orjson.dumps(shared["page"], option=orjson.OPT_SORT_KEYS).decode(), member))
    return pages


@functools.cache
def server_context(library_name: str, run_seed: int, key: str, with_ip: bool) -> tuple[str, str]:
    """The context of messages a source sends for users from its servers (e.g. the email tool),
    cut where context.ip goes: server libraries send none unless the sender sets one (with_ip)."""
    context = LIBRARIES[library_name].context(random.Random(derive_seed(run_seed, "server", key)))
    if not with_ip:
        return orjson.dumps(context, option=orjson.OPT_SORT_KEYS).decode(), ""
    template = orjson.dumps(dict(context, ip=PLACEHOLDER.format("ip")), option=orjson.OPT_SORT_KEYS).decode()
    head, tail = split_template(template, ["ip"])
    return head, tail
