"""Effective capabilities of a process, from /proc/<pid>/status."""
from __future__ import annotations

from wirespeed.system.hostfs import HostFS

# linux/capability.h
CAPS = {
    "CAP_NET_ADMIN": 12,
    "CAP_NET_RAW": 13,
    "CAP_IPC_LOCK": 14,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24,
    "CAP_PERFMON": 38,
    "CAP_BPF": 39,
}


def effective(fs: HostFS, pid: str = "self") -> set[str]:
    """Names of the effective capabilities we know of (empty if unreadable)."""
    for line in (fs.read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith("CapEff:"):
            mask = int(line.split()[1], 16)
            return {name for name, bit in CAPS.items() if mask >> bit & 1}
    return set()
