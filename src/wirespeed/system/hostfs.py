"""Reading (and, for `tune`, writing) /proc and /sys through one root, so tests
can point it at a fixture tree (a fake host with isolated cores, exhausted
hugepages, a NIC this machine lacks) and the code under test cannot tell the
difference."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HostFS:
    """The host's files, under `root` ("/" for the real host)."""

    root: Path = Path("/")

    def path(self, p: str) -> Path:
        return self.root / p.lstrip("/")

    def read(self, p: str) -> str | None:
        """File text stripped of its trailing newline, or None if unreadable."""
        try:
            return self.path(p).read_text().rstrip("\n")
        except (OSError, UnicodeDecodeError):
            return None

    def read_int(self, p: str) -> int | None:
        text = self.read(p)
        try:
            return int(text.split()[0]) if text else None
        except ValueError:
            return None

    def write(self, p: str, text: str) -> None:
        """Write a sysfs/procfs value the way `echo text > p` does; OSError as the kernel refuses it."""
        with open(self.path(p), "w") as f:
            f.write(text + "\n")

    def exists(self, p: str) -> bool:
        return self.path(p).exists()

    def listdir(self, p: str) -> list[str]:
        try:
            return sorted(os.listdir(self.path(p)))
        except OSError:
            return []

    def readlink_name(self, p: str) -> str | None:
        """Last component of a symlink's target (e.g. a device's driver)."""
        try:
            return os.path.basename(os.readlink(self.path(p)))
        except OSError:
            return None

    def mounts(self) -> list[tuple[str, str, str]]:
        """(mount point, fs type, options) from /proc/mounts."""
        out = []
        for line in (self.read("/proc/mounts") or "").splitlines():
            parts = line.split()
            if len(parts) >= 4:
                out.append((parts[1], parts[2], parts[3]))
        return out

    def cmdline(self) -> dict[str, str]:
        """Kernel boot parameters: name -> value ("" for bare flags)."""
        params: dict[str, str] = {}
        for tok in (self.read("/proc/cmdline") or "").split():
            if tok == "--":  # what follows belongs to init, not the kernel
                break
            name, _, value = tok.partition("=")
            params[name] = value
        return params


def parse_cpulist(text: str | None) -> set[int]:
    """'0-3,8,10-11' -> {0,1,2,3,8,10,11}; '' or None -> empty; flags such as
    'domain,managed_irq,' (isolcpus syntax) are skipped."""
    cpus: set[int] = set()
    for part in (text or "").replace(" ", "").split(","):
        if not part or not part[0].isdigit():
            continue
        lo, _, hi = part.partition("-")
        hi_cpu, _, _stride = hi.partition(":")
        try:
            cpus.update(range(int(lo), int(hi_cpu or lo) + 1))
        except ValueError:
            continue
    return cpus


def format_cpulist(cpus: set[int] | frozenset[int]) -> str:
    """{0,1,2,5} -> '0-2,5' (parse_cpulist's inverse)."""
    runs: list[list[int]] = []
    for c in sorted(cpus):
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
