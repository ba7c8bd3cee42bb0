"""Segment messages as stored by its S3 destination: one JSON object a line, keys sorted.

`MessageWriter.track` is the simulation's hot path (hundreds of thousands of calls a second), so
it lays out the sorted keys by hand around pieces serialised by orjson; `message_dict` is the same
message as a dict, which tests compare it with.
"""

from __future__ import annotations

from functools import lru_cache

import orjson

from toolkit.segment.libraries import Library
from toolkit.segment.timestamps import iso_ms

_SORTED = orjson.OPT_SORT_KEYS


@lru_cache(maxsize=4096)
def _json_text(value: str) -> str:
    return orjson.dumps(value).decode()


def _user_id_field(user_id: str | None, library: Library) -> str:
    if user_id is not None:
        return f',"userId":{_json_text(user_id)}'
    return ',"userId":null' if library.null_user_id else ""


class MessageWriter:
    """Serialises the messages of one source (its id, library and write key)."""

    def __init__(self, source_id: str, library: Library, write_key: str):
        self.source_id = source_id
        self.library = library
        self.write_key = write_key
        self._tail = f',"version":2,"writeKey":{_json_text(write_key)}}}\n'

    def track(self, anonymous_id: str, context_json: str, event: str, properties: dict, message_id: str, times: tuple[int, int, int, int], user_id: str | None) -> bytes:
        """A track message; `times` = (originalTimestamp, sentAt, receivedAt, timestamp) in epoch ms."""
        original, sent, received, timestamp = times
        return (
            f'{{"anonymousId":{_json_text(anonymous_id)},"channel":"{self.library.channel}","context":{context_json}'
            f',"event":{_json_text(event)},"integrations":{{}},"messageId":"{message_id}"'
            f',"originalTimestamp":"{iso_ms(original)}","projectId":"{self.source_id}"'
            f',"properties":{orjson.dumps(properties, option=_SORTED).decode()}'
            f',"receivedAt":"{iso_ms(received)}","sentAt":"{iso_ms(sent)}","timestamp":"{iso_ms(timestamp)}"'
            f',"type":"track"{_user_id_field(user_id, self.library)}{self._tail}'
        ).encode()

    def identify(self, anonymous_id: str, context_json: str, traits: dict, message_id: str, times: tuple[int, int, int, int], user_id: str | None) -> bytes:
        """An identify message, serialised from its dict (identifies are few)."""
        message = self.message_dict("identify", anonymous_id, orjson.Fragment(context_json), message_id, times, user_id, traits=traits)
        return orjson.dumps(message, option=_SORTED | orjson.OPT_APPEND_NEWLINE)

    def message_dict(self, kind: str, anonymous_id: str, context, message_id: str, times: tuple[int, int, int, int], user_id: str | None, **fields) -> dict:
        """The message as a dict: what `track` and `identify` serialise."""
        original, sent, received, timestamp = times
        message = {
            "anonymousId": anonymous_id,
            "channel": self.library.channel,
            "context": context,
            "integrations": {},
            "messageId": message_id,
            "originalTimestamp": iso_ms(original),
            "projectId": self.source_id,
            "receivedAt": iso_ms(received),
            "sentAt": iso_ms(sent),
            "timestamp": iso_ms(timestamp),
            "type": kind,
            "version": 2,
            "writeKey": self.write_key,
            **fields,
        }
        if user_id is not None or self.library.null_user_id:
            message["userId"] = user_id
        return message
