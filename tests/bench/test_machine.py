"""bench/machine.py: the stall probe (what the machine takes from a core)."""
from __future__ import annotations

import pytest


def test_core_stalls_probe_reports_what_it_saw() -> None:
    """The stall probe on a core of ours: counts, shares and the tick rate in range."""
    import os

    from wirespeed.bench import machine

    cores = sorted(os.sched_getaffinity(0))[-2:]
    both = machine.cores_stalls(cores, 0.3)
    assert sorted(both) == sorted(str(c) for c in cores)
    cpu = cores[-1]
    st = both[str(cpu)]
    assert st["cpu"] == cpu and st["stalls"] >= 0 and 0 <= st["stolen_fraction"] < 1
    assert 0 <= st["late_fraction"] <= st["stolen_fraction"]
    assert st["stalls_per_s"] == pytest.approx(st["stalls"] / 0.3)
    if st["stalls"]:
        assert st["threshold_ns"] <= st["stall_ns_p50"] <= st["stall_ns_max"]
