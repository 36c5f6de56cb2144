"""No allocation per message: a malloc counter preloaded into a child Python
watches the C books apply the second half of a day (the first half warmed
them up) and the router take a ring's worth of frames in batches."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

CHILD = r"""
import ctypes, numpy as np
from wirespeed import _native
from wirespeed.exchange import sim
count = ctypes.CDLL(None).ws_malloc_count
count.restype = ctypes.c_ulong
day = sim.itch_day(400_000, symbols=50, seed=3)
off = 0
while off < len(day) // 2:
    off += 2 + int.from_bytes(day[off:off + 2], "big")
first, second = day[:off], day[off:]
eng = _native.BookEngine(max_locate=64, max_orders=1 << 18, max_levels=1 << 16)
eng.apply_day(first)
before = count()
n = eng.apply_day(second)
print("apply_day", n, count() - before)
"""


ROUTER = r"""
import ctypes, time
import wirespeed
from wirespeed.exchange import sim as S
from wirespeed.formats.pcapng import read_packets
from tests.book.test_route import _batch
count = ctypes.CDLL(None).ws_malloc_count
count.restype = ctypes.c_ulong
lines = [S.Line("239.1.1.1", 30001, S.Faults(reorder=0.05)), S.Line("239.1.2.1", 30001, S.Faults(dup=0.05))]
cfg = S.SimConfig(lines=lines, count=100_000, symbols=20, seed=4, rate=0, duration_s=0)
S.to_pcapng(cfg, PATH)
pk = list(read_packets(PATH))
half = len(pk) // 2
warm, steady = (_batch([f for _, _, f in part], [t for _, t, _ in part]) for part in (pk[:half], pk[half:]))
books = wirespeed.Books(max_orders=1 << 18, max_levels=1 << 16)
router = books._router
router.records(warm.headers, warm.payload, len(warm))
before = count()
router.records(steady.headers, steady.payload, len(steady))
print("records", len(steady), count() - before)
"""


def _child(so: Path, code: str) -> list[str]:
    env = dict(os.environ, LD_PRELOAD=str(so), PYTHONPATH=f"{REPO / 'src'}:{REPO}")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.split()


def test_the_books_allocate_nothing_per_message(alloc_shim: Path) -> None:
    name, n, mallocs = _child(alloc_shim, CHILD)
    assert name == "apply_day" and int(n) > 150_000
    assert int(mallocs) == 0, f"{mallocs} allocations while applying {n} messages"


def test_the_counter_sees_allocations(alloc_shim: Path) -> None:
    """The check can fail: a fresh engine's first messages grow its side arrays."""
    code = CHILD.replace("eng.apply_day(first)\n", "")
    _name, _n, mallocs = _child(alloc_shim, code)
    assert int(mallocs) > 50


def test_the_router_allocates_nothing_per_frame(alloc_shim: Path, tmp_path: Path) -> None:
    """A/B frames with reordering and duplicates through FeedRouter.records: once the
    session's feed exists, frames, arbitration, holds and books allocate nothing."""
    name, n, mallocs = _child(alloc_shim, f"PATH = {str(tmp_path / 'ab.pcapng')!r}\n" + ROUTER)
    assert name == "records" and int(n) > 10_000
    assert int(mallocs) == 0, f"{mallocs} allocations for {n} frames"
