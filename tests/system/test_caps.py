from __future__ import annotations

from pathlib import Path

from wirespeed.system import caps
from wirespeed.system.hostfs import HostFS


def test_effective_capabilities_decoded(tmp_path: Path) -> None:
    (tmp_path / "proc/self").mkdir(parents=True)
    mask = (1 << 12) | (1 << 13) | (1 << 39)  # NET_ADMIN, NET_RAW, BPF
    (tmp_path / "proc/self/status").write_text(f"Name:\tx\nCapEff:\t{mask:016x}\n")
    assert caps.effective(HostFS(tmp_path)) == {"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_BPF"}


def test_unreadable_status_means_no_capabilities(tmp_path: Path) -> None:
    assert caps.effective(HostFS(tmp_path)) == set()
