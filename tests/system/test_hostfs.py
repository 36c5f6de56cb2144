from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wirespeed.system.hostfs import HostFS, parse_cpulist


@pytest.mark.parametrize(
    "text, cpus",
    [
        ("0-3,8,10-11", {0, 1, 2, 3, 8, 10, 11}),
        ("", set()),
        (None, set()),
        ("5", {5}),
        ("domain,managed_irq,2-3", {2, 3}),  # isolcpus flags are skipped
        ("0-7:2/4", set(range(8))),  # stride syntax: the range is kept, conservatively
        ("garbage,1", {1}),
    ],
)
def test_parse_cpulist(text, cpus) -> None:
    assert parse_cpulist(text) == cpus


@pytest.mark.property
@given(st.sets(st.integers(0, 511), max_size=64))
def test_parse_cpulist_round_trips_a_listing(cpus: set[int]) -> None:
    from wirespeed.system.hostfs import format_cpulist

    assert parse_cpulist(format_cpulist(cpus)) == cpus


@pytest.mark.property
@given(st.text(max_size=40))
def test_parse_cpulist_never_raises(text: str) -> None:
    parse_cpulist(text)


def test_cmdline_stops_at_init_arguments(tmp_path: Path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cmdline").write_text("quiet isolcpus=2-3 nohz_full=2-3 -- --init-flag isolcpus=9\n")
    fs = HostFS(tmp_path)
    assert fs.cmdline() == {"quiet": "", "isolcpus": "2-3", "nohz_full": "2-3"}


def test_missing_files_read_as_none(tmp_path: Path) -> None:
    fs = HostFS(tmp_path)
    assert fs.read("/proc/nothing") is None
    assert fs.read_int("/proc/nothing") is None
    assert fs.listdir("/sys/none") == []
    assert fs.mounts() == []
