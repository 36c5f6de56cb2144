"""DirectFile: what goes in comes out, O_DIRECT or not, whatever the sizes."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wirespeed.capture.directio import DirectFile


@pytest.fixture(params=["/var/tmp", "/dev/shm"], ids=["disk-o_direct", "tmpfs-buffered"])
def where(request) -> Path:
    d = Path(tempfile.mkdtemp(dir=request.param))
    yield d
    for f in d.iterdir():
        f.unlink()
    d.rmdir()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(0, 70_000), max_size=30), st.integers(0, 1))
def test_bytes_round_trip(where, sizes, mode) -> None:
    path = where / "f.bin"
    f = DirectFile(path, chunk=64 * 1024)
    want = bytearray()
    for i, n in enumerate(sizes):
        chunk = bytes([(i * 7 + j) & 0xFF for j in range(min(n, 256))]) * (n // 256 + 1)
        chunk = chunk[:n]
        if mode and n <= 32 * 1024:
            buf, off = f.space(n)
            buf[off:off + n] = chunk
            f.commit(n)
        else:
            f.write(chunk)
        want += chunk
    f.close()
    assert path.read_bytes() == bytes(want)


def test_o_direct_on_a_disk_and_a_short_tail(where) -> None:
    """A disk takes O_DIRECT (tmpfs does since Linux 6.6, older ones fall
    back to buffered writes); a tail shorter than a block is still written."""
    f = DirectFile(where / "g.bin")
    f.write(b"x" * 10)
    f.close()
    if str(where).startswith("/var/tmp"):
        assert f.direct
    assert os.path.getsize(where / "g.bin") == 10


def test_too_big_a_reservation_is_refused(where) -> None:
    f = DirectFile(where / "h.bin", chunk=64 * 1024)
    with pytest.raises(ValueError, match="do not fit"):
        f.space(64 * 1024)
    f.close()
