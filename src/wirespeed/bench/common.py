"""What every benchmark shares: a calibrated clock, percentiles, child
processes pinned to cores, and the result table."""
from __future__ import annotations

import csv
import multiprocessing as mp
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.errors import WirespeedError
from wirespeed.feed.latency import possible


def tsc_hz(seconds: float = 0.2) -> float:
    """Ticks per second of the clock the native bench kernels use."""
    t0, p0 = _native.tsc(), time.perf_counter_ns()
    time.sleep(seconds)
    t1, p1 = _native.tsc(), time.perf_counter_ns()
    return (t1 - t0) / ((p1 - p0) / 1e9)


def percentiles_ns(ticks: np.ndarray, hz: float) -> dict[str, float]:
    """Percentiles in ns of TSC tick samples; impossible ones (an unsigned
    difference that went negative reads as ~1.8e19 ticks) are left out and
    counted in "impossible", never averaged in."""
    ns = ticks.astype(np.float64) * (1e9 / hz)
    ok = possible(ns)
    ns = ns[ok]
    out: dict[str, float] = {"n": int(len(ns)), "impossible": int((~ok).sum())}
    if not len(ns):
        return out
    p = np.percentile(ns, [50, 90, 99, 99.9])
    out.update({"p50": float(p[0]), "p90": float(p[1]), "p99": float(p[2]), "p999": float(p[3]),
                "max": float(ns.max()), "stddev": float(ns.std())})
    return out


def cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def run_child(target: Callable[..., Any], *args: Any, cpu: int | None = None) -> tuple[mp.Process, Any]:
    """Start target(*args) in a forked child pinned to `cpu`; returns
    (process, connection) - the child sends its result (or an exception
    text) down the connection."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def body() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        try:
            child.send(("ok", target(*args)))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            child.send(("error", f"{type(exc).__name__}: {exc}"))

    proc = ctx.Process(target=body, daemon=True)
    proc.start()
    return proc, parent


def collect(proc: mp.Process, conn: Any, timeout: float = 120.0) -> Any:
    if not conn.poll(timeout):
        proc.kill()
        raise RuntimeError(f"benchmark child {proc.pid} gave no result within {timeout:.0f} s")
    status, value = conn.recv()
    proc.join(5)
    if status != "ok":
        raise RuntimeError(f"benchmark child failed: {value}")
    return value


@dataclass(frozen=True)
class Goal:
    """A figure the issue asks for: `key` compared with `op` to `target`."""

    label: str
    key: str
    op: str  # ">=" or "<="
    target: float

    def met(self, results: dict[str, Any]) -> bool | None:
        v = results.get(self.key)
        if v is None:
            return None
        return v >= self.target if self.op == ">=" else v <= self.target


def goals_report(goals: list[Goal], results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal with its value and whether it is met (None: not measured)."""
    return [{"goal": g.label, "key": g.key, "target": f"{g.op} {g.target:g}", "value": results.get(g.key),
             "met": g.met(results)} for g in goals]



def send_stamped(cfg: Any) -> tuple[dict[str, Any], dict[bytes, np.ndarray]]:
    """Run the simulator (an exchange.sim.SimConfig sending raw frames) with
    every data packet's kernel TX stamp kept: its statistics, and its sent
    log by session (feed.latency.LatencyMeter.split cuts latencies there)."""
    from dataclasses import replace

    from wirespeed.exchange import sim as S

    packets = int(cfg.rate * (cfg.duration_s + 1) * 1.1) if cfg.rate else cfg.count
    sim = S.start(replace(cfg, stamp_log=packets + 10_000, tx_stamps=True))
    stats = sim.wait()
    return stats, sim.sent_by_session()


def thread_cpu_ns(prefix: str = "ws-rx-") -> int | None:
    """CPU time (ns, from schedstat) of this process's threads whose name
    starts with `prefix` - the native receive threads name themselves
    ws-rx-kernel / ws-rx-af_xdp. None if there is no such thread."""
    total, found = 0, False
    for task in os.scandir("/proc/self/task"):
        try:
            with open(f"{task.path}/comm") as f:
                if not f.read().startswith(prefix):
                    continue
            with open(f"{task.path}/schedstat") as f:
                total += int(f.read().split()[0])
            found = True
        except (OSError, ValueError, IndexError):
            continue  # the thread ended while we looked
    return total if found else None


def sockperf_ping_pong(server: list[str], client: list[str], seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Start `server` (a sockperf server command line), run `client` (a
    sockperf ping-pong command line, --full-log is added) and stop the
    server: (txTime s, latency µs) of every observation, as sockperf_log."""
    srv = subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with tempfile.TemporaryDirectory(prefix="wsbench-sockperf-") as d:
        log = Path(d) / "full.csv"
        try:
            time.sleep(0.3)
            if srv.poll() is not None:
                raise WirespeedError(f"sockperf server did not start: {(srv.stderr.read() or '')[-300:]}")
            r = subprocess.run([*client, "--full-log", str(log)], capture_output=True, text=True,
                               timeout=seconds + 30)
        finally:
            srv.terminate()
            srv.wait(10)
        if r.returncode != 0 or not log.exists():
            raise WirespeedError(f"sockperf ping-pong failed: {(r.stderr or r.stdout).strip()[-300:]}")
        return sockperf_log(log)


def sockperf_log(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(txTime s, latency µs) of every observation in sockperf's --full-log CSV
    (its latency is half the round trip, as sockperf reports it)."""
    tx, lat = [], []
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if len(row) == 4 and row[0].strip().isdigit():
                tx.append(float(row[1]))
                lat.append(float(row[3]))
    return np.array(tx), np.array(lat)


HUGEPAGES_2M = Path("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")


@contextmanager
def hugepages_for_dpdk(mb: int, step: Callable[[str], None]) -> Iterator[str]:
    """Free 2 MB hugepages and a hugetlbfs mount for the benchmark's DPDK EAL
    (--in-memory), as a production host has them: reserved for the run if
    missing (root), then the pool size and mounts put back. Yields how DPDK's
    memory was provided, for the results. Without root or the pages, DPDK
    runs --no-huge and the results say so."""
    from wirespeed.transports.dpdk import available, hugepages_free_mb

    if not available()[0]:
        yield "no dpdk transport"
        return
    if hugepages_free_mb() >= mb:
        yield "hugepages (already reserved)"
        return
    if os.geteuid() != 0:
        yield "--no-huge (not root: no hugepages reserved)"
        return
    before = int(HUGEPAGES_2M.read_text())
    mounted: str | None = None
    try:
        HUGEPAGES_2M.write_text(str(before + mb // 2 + 8))
        if not any(ln.split()[2:3] == ["hugetlbfs"] for ln in Path("/proc/mounts").read_text().splitlines()):
            mounted = tempfile.mkdtemp(prefix="wsbench-huge-")
            subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", mounted], check=True,
                           capture_output=True)
        got = hugepages_free_mb()
        step(f"dpdk: {got} MB of 2 MB hugepages reserved for the run (put back after)")
        yield "hugepages (reserved for the run)" if got >= mb else "--no-huge (the kernel had no pages to give)"
    finally:
        if mounted:
            subprocess.run(["umount", mounted], capture_output=True)
            os.rmdir(mounted)
        HUGEPAGES_2M.write_text(str(before))
