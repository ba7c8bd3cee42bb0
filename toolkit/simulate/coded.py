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

    def to_arrow(self) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(self.codes, pa.int32()), pa.array(self.texts, pa.string()))
