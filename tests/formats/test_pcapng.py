"""The pcapng writer: the native batch path writes exactly what the
per-packet path writes, and refuses records outside their buffer."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirespeed import _native
from wirespeed.formats.pcapng import PcapngWriter
from wirespeed.ring import REC_DTYPE


def _batch(frames: list[bytes], ifaces: list[int]) -> tuple[np.ndarray, bytes]:
    h = np.zeros(len(frames), dtype=REC_DTYPE)
    off = 0
    for i, f in enumerate(frames):
        h[i]["seq"], h[i]["ts_ns"], h[i]["off"], h[i]["len"] = i + 1, 1_700_000_000_123_456_789 + i, off, len(f)
        off += len(f)
    return h, b"".join(frames)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.binary(max_size=300), st.integers(0, 2)), max_size=40))
def test_batch_blocks_equal_per_packet_blocks(items) -> None:
    frames = [f for f, _ in items]
    ifaces = [i for _, i in items]
    h, payload = _batch(frames, ifaces)
    one, many = io.BytesIO(), io.BytesIO()
    w1, w2 = PcapngWriter(one), PcapngWriter(many)
    for w in (w1, w2):
        for k in range(3):
            w.add_interface(f"if{k}")
    for i, f in enumerate(frames):
        w1.packet(ifaces[i], int(h[i]["ts_ns"]), f)
    w2.packets(h, payload, np.array(ifaces, dtype=np.uint32))
    assert one.getvalue() == many.getvalue()


def test_records_outside_the_payload_are_refused() -> None:
    h, payload = _batch([b"abcd", b"efgh"], [0, 0])
    h[1]["len"] = 100
    with pytest.raises(ValueError, match="outside"):
        _native.pcapng_epbs(h, payload, np.zeros(2, dtype=np.uint32))
    with pytest.raises(ValueError, match="one uint32 per record"):
        _native.pcapng_epbs(h, payload, np.zeros(3, dtype=np.uint32))
