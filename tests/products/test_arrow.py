"""products.arrow: numpy <-> Arrow by buffers, equal to pyarrow's own conversions, and
an export that never makes pyarrow import pandas (0.2 s of a small day's export)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirespeed.products.arrow import booleans, from_numpy, one_array, strings, to_numpy, validity

_INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(_INTS), st.integers(0, 300), st.integers(0, 50), st.data())
def test_round_trips_equal_pyarrows_own(dtype: type, n: int, cut: int, data: st.DataObject) -> None:
    info = np.iinfo(dtype)
    values = np.array(data.draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n)),
                      dtype=dtype)
    valid = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    a = from_numpy(values, valid)
    assert a.equals(pa.array(values, mask=~valid))
    sliced = a.slice(min(cut, n))  # an offset into the buffers
    want = values[min(cut, n):]
    ok = valid[min(cut, n):]
    assert np.array_equal(to_numpy(sliced)[ok], want[ok])
    got_valid = validity(sliced)
    assert np.array_equal(got_valid if got_valid is not None else np.ones(len(want), bool), ok)
    chunked = pa.chunked_array([a.slice(0, n // 2), a.slice(n // 2)], type=a.type)
    assert np.array_equal(to_numpy(chunked)[valid], values[valid])


def test_strings_booleans_and_empty_columns() -> None:
    assert strings(["a", "", "é", "xyz"]).equals(pa.array(["a", "", "é", "xyz"]))
    assert strings([]).equals(pa.array([], pa.string()))
    assert booleans(np.array([True, False, True] * 5)).equals(pa.array([True, False, True] * 5))
    empty = pa.chunked_array([], type=pa.int32())
    assert to_numpy(empty).dtype == np.int32 and len(to_numpy(empty)) == 0
    assert validity(empty) is None
    assert one_array(pa.chunked_array([pa.array([1, 2]), pa.array([3])])).to_pylist() == [1, 2, 3]
    with pytest.raises(TypeError, match="integer"):
        from_numpy(np.zeros(3))
    with pytest.raises(TypeError, match="integer"):
        to_numpy(pa.array(["x"]))


def test_an_export_does_not_import_pandas(tmp_path: Path) -> None:
    """Every table, from a simulated day: pyarrow's conversions would import pandas."""
    from wirespeed.exchange import sim as S

    day = tmp_path / "day.pcapng"
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001)], count=20_000, symbols=8, seed=3, rate=0, duration_s=0),
                day)
    code = (f"import sys; from pathlib import Path; from wirespeed.products.export import ExportConfig, export; "
            f"export(ExportConfig(source=Path({str(day)!r}), out=Path({str(tmp_path / 'out')!r}), "
            f"tables=('mbo', 'trades', 'bbo', 'depth'))); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_byte_columns_dictionary_past_its_codes_labels_the_rest() -> None:
    """The C take gives a byte column at most BYTE_CODES codes, then code BYTE_CODES to
    every new byte (products/export.h): that code is labelled "?" so every code has a
    label (the dictionary is built without pyarrow's bounds check)."""
    from wirespeed.products.mbo import BYTE_CODES, _char, _Codes

    c = _Codes(256, np.int8, full=BYTE_CODES)
    c.table[32:32 + BYTE_CODES] = np.arange(BYTE_CODES)  # as the take fills it: bytes 32.. in order met
    c.table[256] = BYTE_CODES
    codes = np.array([0, 5, BYTE_CODES, BYTE_CODES - 1], dtype=np.int8)
    col = c.column(codes, _char)
    assert len(col.dictionary) == BYTE_CODES + 1 and col.dictionary[BYTE_CODES].as_py() == "?"
    col.validate(full=True)
    assert col.to_pylist() == [" ", "%", "?", _char(32 + BYTE_CODES - 1)]
    assert len(c.column(codes, _char).dictionary) == BYTE_CODES + 1  # once
