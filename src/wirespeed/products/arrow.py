"""numpy arrays to Arrow arrays and back, by their buffers (no copy).

Why not pa.array() and Array.to_numpy(): on their first call pyarrow imports
pandas (to recognise pandas objects), 0.2 s that a single `wirespeed export` of
a 5 M-message day otherwise spends in its first batch, a sixth of the export.
The export's columns are plain integers (and dictionary codes), so their
buffers are all it needs.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

_TYPES = {np.dtype(np.int8): pa.int8(), np.dtype(np.int16): pa.int16(), np.dtype(np.int32): pa.int32(),
          np.dtype(np.int64): pa.int64(), np.dtype(np.uint8): pa.uint8(), np.dtype(np.uint16): pa.uint16(),
          np.dtype(np.uint32): pa.uint32(), np.dtype(np.uint64): pa.uint64()}
_DTYPES = {t: d for d, t in _TYPES.items()}


def from_numpy(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An integer array as Arrow (its memory shared, so values must not change
    while the Arrow array lives); valid: a bool a row, False for null."""
    values = np.ascontiguousarray(values)
    typ = _TYPES.get(values.dtype)
    if typ is None:
        raise TypeError(f"from_numpy: integer arrays only, not {values.dtype}")
    bitmap = None
    nulls = 0
    if valid is not None:
        nulls = int(len(valid) - np.count_nonzero(valid))
        if nulls:
            bitmap = booleans(valid).buffers()[1]
    return pa.Array.from_buffers(typ, len(values), [bitmap, pa.py_buffer(values)], null_count=nulls)


def to_numpy(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An integer column's values as numpy (shared, read-only; a null's slot holds
    whatever the buffer has there: pair it with validity())."""
    dtype = _DTYPES.get(column.type)
    if dtype is None:
        raise TypeError(f"to_numpy: integer columns only, not {column.type}")
    if not len(column):
        return np.empty(0, dtype=dtype)
    a = one_array(column)
    return np.frombuffer(a.buffers()[1], dtype=dtype, count=len(a), offset=a.offset * dtype.itemsize)


def validity(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """A bool a row (False: null), or None when there are no nulls."""
    if not column.null_count:
        return None
    a = one_array(column)
    bits = np.frombuffer(a.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, bitorder="little", count=a.offset + len(a))[a.offset:].astype(bool)


def booleans(values: np.ndarray) -> pa.Array:
    """A bool array as Arrow (e.g. a filter)."""
    return pa.Array.from_buffers(pa.bool_(), len(values),
                                 [None, pa.py_buffer(np.packbits(values.astype(bool), bitorder="little"))])


def strings(labels: list[str]) -> pa.Array:
    """A list of str as an Arrow string array."""
    data = [s.encode() for s in labels]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    if data:
        np.cumsum([len(b) for b in data], out=offsets[1:])
    return pa.StringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(b"".join(data)))


def one_array(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as one array; not for an empty one (pyarrow imports pandas to
    combine no chunks)."""
    if isinstance(column, pa.ChunkedArray):
        return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    return column
