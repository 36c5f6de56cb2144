"""The C reader of recordings (formats/pcapread.c) on damaged input: any bytes, any
flipped byte, any cut, in pcapng and classic pcap, give packets, a counted skip or an
error naming the byte offset - never a crash, a hang or a read outside the file."""
from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from wirespeed import _native
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import read_packets
from wirespeed.products.mbo import MboOptions, MboSource


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("pr") / "day.pcapng"
    S.to_pcapng(S.SimConfig(lines=[S.Line("239.1.1.1", 30001)], count=600, symbols=3, rate=0, duration_s=0), path)
    return path.read_bytes()


def _export(data: bytes, path: Path) -> tuple[int, list[str]]:
    path.write_bytes(data)
    try:
        src = MboSource([path], MboOptions(max_orders=1 << 14, max_levels=1 << 12))
    except Exception as exc:  # noqa: BLE001 - only the two refusals a user can act on are allowed
        raise AssertionError(f"unexpected {exc!r}") from None
    rows = 0
    try:
        for b in src.batches():
            rows += b.table.num_rows
    except Exception as exc:  # noqa: BLE001
        assert "not a pcap" in str(exc), exc  # a file that does not even start like one
        return 0, [str(exc)]
    finally:
        src.close()
    return rows, src.stats().errors


def test_the_c_reader_sees_what_the_python_one_sees(small: bytes, tmp_path: Path) -> None:
    path = tmp_path / "a.pcapng"
    path.write_bytes(small)
    src = _native.PcapSource(str(path))
    books = MboSource([path], MboOptions(max_orders=1 << 14, max_levels=1 << 12))
    state = 1
    while state == 1:
        state, _ = _native.mbo_pump(books.books._router, src)
        books._take()
    assert state == 0 and src.stats()["packets"] == len(list(read_packets(str(path))))
    assert src.stats()["error"] is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_flipped_bytes_and_cuts(small: bytes, tmp_path: Path, data: st.DataObject) -> None:
    b = bytearray(small)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(b)))
    rows, errors = _export(bytes(b[:cut]), tmp_path / "f.pcapng")
    assert rows >= 0 and all(("byte" in e) or ("not a pcap" in e) for e in errors)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=2048), classic=st.booleans())
def test_arbitrary_bytes_behind_a_valid_header(tmp_path: Path, blob: bytes, classic: bool) -> None:
    head = (struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1) if classic else
            struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))
    rows, errors = _export(head + blob, tmp_path / "g.pcapng")
    assert rows >= 0 and all(("byte" in e) or ("not a pcap" in e) for e in errors)
