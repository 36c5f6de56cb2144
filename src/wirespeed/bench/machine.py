"""What the machine was when a benchmark ran: figures mean nothing without it.

Only reads /proc and /sys (and systemd-detect-virt when it is there); every
fact it cannot learn is reported as None with nothing guessed.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from wirespeed import __version__


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        k, _, v = line.partition(":")
        info.setdefault(k.strip(), v.strip())
    return info


def virtualisation() -> dict[str, str | None]:
    """{'vm': hypervisor name or 'none', 'container': its kind or 'none'};
    None where it cannot be told (no systemd-detect-virt, no cpuinfo flag)."""
    out: dict[str, str | None] = {"vm": None, "container": None}
    exe = shutil.which("systemd-detect-virt")
    if exe:
        for kind in ("vm", "container"):
            r = subprocess.run([exe, f"--{kind}"], capture_output=True, text=True)
            out[kind] = r.stdout.strip() or None
    if out["vm"] is None:
        flags = _cpuinfo().get("flags", "").split()
        out["vm"] = ("yes" if "hypervisor" in flags else "none") if flags else None
    return out


def governors() -> dict[str, int] | None:
    """Scaling governor -> how many cores use it; None without cpufreq (a VM, usually)."""
    out: dict[str, int] = {}
    for p in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor"):
        g = _read(str(p))
        if g:
            out[g] = out.get(g, 0) + 1
    return out or None


def git_commit() -> str | None:
    """The checkout's commit when wirespeed runs from one (an editable install)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists() or not shutil.which("git"):
        return None
    r = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return r.stdout.strip() or None


def load() -> dict[str, Any]:
    """How busy the machine is now: load averages and the jiffies spent so
    far (steal is the hypervisor's share - time this VM wanted and did not get)."""
    la = (_read("/proc/loadavg") or "").split()
    cpu = next((ln.split()[1:] for ln in (_read("/proc/stat") or "").splitlines() if ln.startswith("cpu ")), [])
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    return {"loadavg_1m": float(la[0]) if la else None, "loadavg_5m": float(la[1]) if len(la) > 1 else None,
            "jiffies": {k: int(v) for k, v in zip(names, cpu)}}


def busy_during(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Steal over the run, as a fraction of all CPU time: above a few percent,
    the hypervisor took cores away and tail figures show it."""
    a, b = before.get("jiffies") or {}, after.get("jiffies") or {}
    delta = {k: b.get(k, 0) - a.get(k, 0) for k in b}
    total = sum(delta.values())
    return {"steal_fraction": delta.get("steal", 0) / total if total else None,
            "loadavg_1m_before": before.get("loadavg_1m"), "loadavg_1m_after": after.get("loadavg_1m")}


def busy_now(seconds: float = 0.5) -> float | None:
    """Fraction of all cores busy (not idle, not iowait) over a short look:
    what else is running when a benchmark starts."""
    a = load()["jiffies"]
    time.sleep(seconds)
    b = load()["jiffies"]
    d = {k: b[k] - a.get(k, 0) for k in b}
    total = sum(d.values())
    return (total - d.get("idle", 0) - d.get("iowait", 0)) / total if total else None


def facts() -> dict[str, Any]:
    cpu = _cpuinfo()
    mem_kb = next((int(ln.split()[1]) for ln in (_read("/proc/meminfo") or "").splitlines()
                   if ln.startswith("MemTotal:")), None)
    return {
        "cpu_model": cpu.get("model name"),
        "cores_online": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)),
        "isolated_cores": _read("/sys/devices/system/cpu/isolated") or "",
        "nohz_full": _read("/sys/devices/system/cpu/nohz_full"),
        "governor": governors(),
        "virtualisation": virtualisation(),
        "kernel": platform.release(),
        "clocksource": _read("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "memory_gib": round(mem_kb / 1048576, 1) if mem_kb else None,
        "hugepages_2m": _read("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"),
        "python": sys.version.split()[0],
        "wirespeed": __version__,
        "git": git_commit(),
        "hostname": platform.node(),
    }


STALL_NS = 20_000   # a gap in a spinning thread's clock reads this long is the core taken away
LATE_NS = 50_000    # the latency past which a message is counted as late (the tail's plateau)


def _local_timer_irqs(cpu: int) -> int | None:
    """The local timer interrupts `cpu` has taken (/proc/interrupts LOC), None if unreadable."""
    lines = (_read("/proc/interrupts") or "").splitlines()
    if not lines:
        return None
    col = lines[0].split().index(f"CPU{cpu}") if f"CPU{cpu}" in lines[0].split() else None
    for line in lines[1:]:
        f = line.split()
        if f and f[0] == "LOC:" and col is not None and len(f) > col + 1 and f[col + 1].isdigit():
            return int(f[col + 1])
    return None


def cores_stalls(cores: list[int], seconds: float) -> dict[str, dict[str, Any]]:
    """core_stalls on each of `cores` at the same time (one spinning thread
    each), by core number: what the machine takes from every core a
    measurement uses, in one window."""
    import threading

    out: dict[str, dict[str, Any]] = {}
    threads = [threading.Thread(target=lambda c=c: out.__setitem__(str(c), core_stalls(c, seconds)))
               for c in cores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def core_stalls(cpu: int, seconds: float) -> dict[str, Any]:
    """How often, and for how long, `cpu` is taken from a thread that only
    spins on the clock (native bench_stalls): with nothing else on it, a
    gap of STALL_NS or more is an interrupt (the scheduler's tick first),
    a softirq, or the hypervisor running something else on the core. Any
    receiver pinned there pays the same, so this is the floor of its tail.

    late_fraction is the share of messages, arriving evenly, that a stall
    would hold past LATE_NS: sum(max(0, gap - LATE_NS)) / seconds."""
    import threading

    import numpy as np

    from wirespeed import _native

    cap = 1 << 18
    lens = np.zeros(cap, dtype=np.uint64)
    got: list[tuple[int, int]] = []

    def spin() -> None:
        os.sched_setaffinity(0, {cpu})
        got.append(_native.bench_stalls(seconds, STALL_NS, lens))

    irq0 = _local_timer_irqs(cpu)
    t = threading.Thread(target=spin, name="ws-stall-probe")
    t.start()
    t.join()
    irq1 = _local_timer_irqs(cpu)
    n, stolen = got[0]
    g = lens[:min(n, cap)].astype(np.int64)
    out: dict[str, Any] = {
        "cpu": cpu, "seconds": seconds, "threshold_ns": STALL_NS, "stalls": int(n),
        "stalls_per_s": n / seconds, "stolen_fraction": stolen / (seconds * 1e9),
        "timer_ticks_per_s": (irq1 - irq0) / seconds if irq0 is not None and irq1 is not None else None,
        "late_ns": LATE_NS, "late_fraction": float(np.maximum(g - LATE_NS, 0).sum()) / (seconds * 1e9),
        "over_late_per_s": int((g > LATE_NS).sum()) / seconds,
    }
    if len(g):
        p = np.percentile(g, [50, 99])
        out.update({"stall_ns_p50": float(p[0]), "stall_ns_p99": float(p[1]), "stall_ns_max": float(g.max())})
    return out
