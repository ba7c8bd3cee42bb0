"""Text columns with few distinct values, kept as integer codes into their texts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Coded:
    """A text column holding few distinct texts, as codes into them: it reaches DuckDB as an Arrow
    dictionary, so no Python string is made or converted per row."""

    codes: np.ndarray
    texts: list[str]

    @classmethod
    def concatenated(cls, parts: list[Coded]) -> Coded:
        """The parts one after another (each part's codes moved past the texts before it)."""
        offsets = np.cumsum([0] + [len(part.texts) for part in parts[:-1]])
        return cls(
            np.concatenate([part.codes + offset for part, offset in zip(parts, offsets, strict=True)]),
            [text for part in parts for text in part.texts],
        )

    def to_arrow(self) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(self.codes, pa.int32()), text_array(self.texts))


def text_array(texts: list[str]) -> pa.Array:
    """Texts as an Arrow string array. ASCII texts (the usual: JSON escapes the rest) are joined
    into one buffer, a few times faster than converting them one by one."""
    joined = "".join(texts)
    if not joined.isascii():
        return pa.array(texts, pa.large_string())
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), out=offsets[1:])
    return pa.LargeStringArray.from_buffers(
        len(texts), pa.py_buffer(offsets), pa.py_buffer(joined.encode("ascii"))
    )
