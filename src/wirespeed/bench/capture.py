"""`wirespeed bench capture`: the receive paths against each other and
against dpdk-testpmd, on the test host (root).

Paths: kernel_block (UDP sockets, epoll; seed 001's baseline), kernel_busy
(non-blocking recvmmsg spin), af_xdp (XDP redirect to AF_XDP, busy-polled),
and where wirespeed was built with DPDK, dpdk (wirespeed's dpdk transport on
DPDK's net_af_xdp driver on the same veth: on this bed it can at best match
af_xdp, since both end in an AF_XDP socket).
The receive thread is pinned to the last core; the simulator (and with it
the veth and the receiver's XDP/stack work, which runs on the sender's CPU
on this bed) to the others. Every figure is measured in the same run.

  * latency: the sim sends ITCH at 10 k msg/s (raw frames: the sender's
    cost is the same for every path); one-way latency per message is ring
    record stamp - ITCH timestamp (lat_us_*), cut at the packet's kernel TX
    stamp into generated -> sent (lat_us_*_gen: the sender's) and sent ->
    received (lat_us_*_sent: the receive path's, what the ratios judge),
    all CLOCK_REALTIME. Every path stamps at dequeue (kernel: --stamp
    user), i.e. just before the record is published, so the figure ends
    where the issue says: in the ring. Paths run interleaved, `repeats`
    times; the medians of the runs are reported.
  * drain (`repeats` rounds, interleaved; the median is reported): the
    transport is opened (sockets bound, XDP attached) but not run; the sim
    sends `drain_pkts` packets flat out, which wait in the socket queue or
    the XSK RX ring; then the receive loop starts. Cost per packet = the
    median over the loop's batches of (next batch's dequeue stamp - this
    one's) / its size (batch_cost_ns): the receive side's own cost, without
    the sender in the way and without the core's stalls, which on this bed
    can outlast a whole drain; drain_pps = 1 / that, and drain_pps_wall =
    packets / (last stamp - first stamp) beside it. dpdk's driver holds
    2,048 of them (the rest are counted as imissed), so dpdk against af_xdp
    is taken over the first DRAIN_SHORT packets of each, round by round.
  * max loss-free rate: every receiver (dpdk-testpmd included) at the bed's
    ceiling (the sim flat out) for trial_s, interleaved, `repeats` rounds;
    a receiver that loses in most rounds gets a bisection on the sending
    rate; then its best loss-free rate is held for confirm_s (60 s by
    default): max_pps is the hold's rate. Loss is
    datagrams sent minus records received, whatever the cause. dpdk-testpmd
    (`--vdev net_af_xdp0,iface=...`, rxonly) gets the same procedure, its
    count from its own statistics. Then af_xdp runs once more at its best
    rate for half of confirm_s with a recorder (its own process) writing the
    ring to pcapng: the recorder's loss is reported (its CPU is taken from
    the sender's core, so this run is not used for the rate).
  * recorder: a ring of 1442-byte frames written to pcapng (fsync included)
    against `dd if=/dev/zero bs=1M oflag=direct` of the same size to the same
    directory, alternating, at least 3 pairs; the median pair ratio is the
    figure (single passes vary 2x here with the page cache and the disk).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.bench.common import Goal, goals_report, hugepages_for_dpdk, send_stamped
from wirespeed.host import testbed
from wirespeed.errors import WirespeedError
from wirespeed.feed.latency import LatencyMeter
from wirespeed.ring import Ring, RingReader, RingWriter
from wirespeed.host.testbed import TestbedConfig
from wirespeed.transports.af_xdp import AfXdpOptions
from wirespeed.transports.dpdk import DpdkOptions, runtime_dir
from wirespeed.transports.dpdk import available as dpdk_available

PATHS: dict[str, tuple[str, str]] = {
    "kernel_block": ("kernel", "block"),
    "kernel_busy": ("kernel", "busy"),
    "af_xdp": ("af_xdp", "busy"),
}
if dpdk_available()[0]:
    PATHS["dpdk"] = ("dpdk", "busy")
GROUP, PORT = "239.9.8.1", 30998
# DPDK 22.11's net_af_xdp keeps at most 2,048 frames queued for the socket
# (its fill ring), so a drain through it covers that many packets whatever is
# sent: dpdk and af_xdp are compared over their first DRAIN_SHORT packets.
DRAIN_SHORT = 2000
DPDK_MB = 256  # hugepages the dpdk path's EAL gets for the run (bench/common.py: hugepages_for_dpdk)

GOALS = [
    Goal("latency p50: kernel_block / af_xdp", "lat_p50_kernel_block_over_af_xdp", ">=", 3.0),
    Goal("latency p99: kernel_block / af_xdp", "lat_p99_kernel_block_over_af_xdp", ">=", 2.5),
    Goal("latency p50: kernel_busy / af_xdp", "lat_p50_kernel_busy_over_af_xdp", ">=", 1.4),
    Goal("drain rate: af_xdp / kernel recvmmsg", "drain_af_xdp_over_kernel", ">=", 10.0),
    Goal("max loss-free rate: af_xdp / dpdk-testpmd", "max_pps_af_xdp_over_testpmd", ">=", 1.0),
    Goal("af_xdp loss-free at the bed's ceiling (1 = yes)", "af_xdp_lossless_at_ceiling", ">=", 1.0),
    Goal("recorder MB/s / dd oflag=direct MB/s", "record_over_dd", ">=", 0.8),
    Goal("recorder loss at the capture's max rate", "record_lost_at_max_rate", "<=", 0),
]
DPDK_GOALS = [
    Goal("max loss-free rate: dpdk / dpdk-testpmd", "max_pps_dpdk_over_testpmd", ">=", 1.0),
    Goal("max loss-free rate: dpdk / af_xdp", "max_pps_dpdk_over_af_xdp", ">=", 0.9),
    Goal("drain cost per packet: dpdk / af_xdp", "drain_cost_dpdk_over_af_xdp", "<=", 1.2),
    Goal("latency p50: dpdk / af_xdp", "lat_p50_dpdk_over_af_xdp", "<=", 1.3),
]


@dataclass(frozen=True)
class CaptureBenchOptions:
    lat_rate: float = 10_000.0
    lat_s: float = 5.0
    repeats: int = 3
    drain_pkts: int = 20_000
    trial_s: float = 3.0
    confirm_s: float = 60.0
    bisect_steps: int = 5
    record_mb: int = 1024
    record_dir: str | None = None  # default: a new folder in /var/tmp (a disk, not tmpfs)
    testpmd: bool = True
    latency: bool = True  # `wirespeed bench` measures latency in its scenarios instead


def _sim_cfg(tb: TestbedConfig, **kw: Any) -> S.SimConfig:
    return S.SimConfig(lines=[S.Line(GROUP, PORT)], netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr,
                       send="raw", **kw)


def _sim(tb: TestbedConfig, **kw: Any) -> dict[str, Any]:
    return S.run(_sim_cfg(tb, **kw))


def _cfg(tb: TestbedConfig, ring: str, path: str, cpu: int | None, rxd: int | None = None, **xdp: Any
         ) -> cap.CaptureConfig:
    transport, mode = PATHS[path]
    return cap.CaptureConfig(iface=tb.host_if, feeds=[cap.FeedSpec("bench", GROUP, PORT)], ring=ring,
                             ring_size="512M", transport=transport, mode=mode, stamp="user", cpu=cpu,
                             xdp=AfXdpOptions(**xdp),
                             dpdk=DpdkOptions(port=f"net_af_xdp0,iface={tb.host_if}", rxd=rxd or DpdkOptions.rxd))


def _capture(tb: TestbedConfig, ring: str, path: str, cpu: int | None) -> cap.Background:
    """A capture into a fresh ring, for one measurement."""
    Path(ring).unlink(missing_ok=True)
    return cap.Background(_cfg(tb, ring, path, cpu))


# -- latency ---------------------------------------------------------------------

def _latency_once(tb: TestbedConfig, ring: str, path: str, opts: CaptureBenchOptions, rx_cpu: int | None) -> dict:
    """One run: generated -> received (lat_us_*), cut at the packet's kernel
    TX stamp into generated -> sent (lat_us_*_gen) and sent -> received
    (lat_us_*_sent); the first tenth of the run left out of each."""
    with _capture(tb, ring, path, rx_cpu):
        sent, log = send_stamped(_sim_cfg(tb, rate=opts.lat_rate, duration_s=opts.lat_s))
        time.sleep(0.3)
    meter = LatencyMeter(ring)
    meter.drain()
    out = meter.finish(warmup=0.1)
    cut = meter.split(log, warmup_s=opts.lat_s / 10)
    for suffix, v in (("_gen", cut["gen_sent"]), ("_sent", cut["sent_rx"])):
        if len(v):
            p = np.percentile(v, [50, 90, 99, 99.9]) / 1000
            out.update({f"lat_us_p50{suffix}": p[0], f"lat_us_p90{suffix}": p[1], f"lat_us_p99{suffix}": p[2],
                        f"lat_us_p999{suffix}": p[3]})
    out["unstamped"] = cut["unstamped"]
    out["lost"] = sum(sent["sent_pkts"]) - out["packets"]
    return out


def _latency(tb: TestbedConfig, ring: str, opts: CaptureBenchOptions, rx_cpu: int | None,
             step: Callable[[str], None]) -> dict[str, Any]:
    runs: dict[str, list[dict]] = {p: [] for p in PATHS}
    for i in range(opts.repeats):
        for path in PATHS:
            step(f"latency at {opts.lat_rate:,.0f} msg/s, {path}, run {i + 1}/{opts.repeats}")
            runs[path].append(_latency_once(tb, ring, path, opts, rx_cpu))
    res: dict[str, Any] = {}
    for path, rs in runs.items():
        for q in ("p50", "p90", "p99", "p999", "p9999", "max", "stddev"):
            for suffix in ("", "_sent", "_gen"):
                vals = [r[f"lat_us_{q}{suffix}"] for r in rs if f"lat_us_{q}{suffix}" in r]
                if vals:
                    res[f"lat_us_{q}_{path}{suffix}"] = float(np.median(vals))
        res[f"lat_runs_{path}"] = [{k: v for k, v in r.items() if k.startswith("lat_us")
                                    or k in ("samples", "lost", "impossible", "unstamped")} for r in rs]
        res[f"lat_impossible_{path}"] = sum(r.get("impossible", 0) for r in rs)
    # the ratios judge the receive path: sent -> received
    for q in ("p50", "p99"):
        for other in ("kernel_block", "kernel_busy"):
            a, b = res.get(f"lat_us_{q}_{other}_sent"), res.get(f"lat_us_{q}_af_xdp_sent")
            res[f"lat_{q}_{other}_over_af_xdp"] = a / b if a and b else None
        if "dpdk" in runs:
            a, b = res.get(f"lat_us_{q}_dpdk_sent"), res.get(f"lat_us_{q}_af_xdp_sent")
            res[f"lat_{q}_dpdk_over_af_xdp"] = a / b if a and b else None
    return res


# -- drain -----------------------------------------------------------------------

def _drain_once(tb: TestbedConfig, ring: str, path: str, n: int, rx_cpu: int | None) -> dict[str, Any]:
    # the queue must hold every packet sent before the loop starts: UMEM
    # frames for af_xdp, descriptors for dpdk (its driver may allow fewer:
    # the rate is then over what it held, and the rest shows as imissed)
    cfg = _cfg(tb, ring, path, rx_cpu, rxd=min(32768, 1 << (n - 1).bit_length()),
               frames=65536 if n > 30000 else 32768, frame_size=2048).validate()
    Path(ring).unlink(missing_ok=True)
    Ring.create(ring, size="512M")
    streams = cfg.streams()
    t = cap.make_transport(cfg, streams)
    with RingWriter(ring) as w:
        t.open()
        try:
            sent = _sim(tb, rate=0, count=n, duration_s=0, max_payload=72)
            time.sleep(0.3)  # the last packets into the queue
            errors: list[BaseException] = []

            def rx() -> None:
                try:
                    if rx_cpu is not None:
                        os.sched_setaffinity(0, {rx_cpu})
                    t.run(w._w)
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)

            th = threading.Thread(target=rx, daemon=True)
            th.start()
            want = sum(sent["sent_pkts"])
            deadline = time.monotonic() + 10
            while w.next_seq - 1 < want and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.1)
            t.stop()
            th.join(5)
            t.account(w)
            if errors:
                raise errors[0]
        finally:
            t.close()
    with RingReader(ring, "oldest") as r:
        b = r.poll(1 << 20)
        ts = b.headers["ts_ns"].astype(np.int64)
        drops = r.info()["drops"]
    got = len(ts)
    span = (int(ts[-1]) - int(ts[0])) / 1e9 if got > 1 else 0.0
    cost, batches = batch_cost_ns(ts)
    short_cost, _ = batch_cost_ns(ts[:DRAIN_SHORT]) if got >= DRAIN_SHORT else (None, 0)
    return {"sent": want, "queued_and_drained": got, "fill_drops": {k: v for k, v in drops.items() if v},
            "drain_s": span, "drain_pps_wall": (got - 1) / span if span > 0 else None,
            "batches": batches, "drain_ns_per_pkt": cost, "drain_pps": 1e9 / cost if cost else None,
            "drain_pps_short": 1e9 / short_cost if short_cost else None}


def batch_cost_ns(ts: np.ndarray) -> tuple[float | None, int]:
    """The receive loop's cost per packet while it runs, from the records'
    dequeue stamps: records sharing a stamp are one batch, and batch k
    costs (stamp of batch k+1 - its own stamp) / its size. The median over
    the batches leaves out the few a stall of the core (an interrupt, the
    hypervisor, another task: on this bed up to milliseconds, whole drains'
    worth) fell into, which a wall-clock rate charges to the receiver.
    (median cost ns, number of batches); None with fewer than 8 batches."""
    starts = np.r_[0, np.flatnonzero(np.diff(ts)) + 1]
    if len(starts) < 9:
        return None, len(starts)
    sizes = np.diff(np.r_[starts, len(ts)])
    per = np.diff(ts[starts]) / sizes[:-1]
    return float(np.median(per)), len(starts)


# -- max loss-free rate -------------------------------------------------------------

def _trial_capture(tb: TestbedConfig, ring: str, path: str, rate: float, seconds: float, rx_cpu: int | None,
                   record_dir: Path | None = None) -> dict[str, Any]:
    rec = None
    with _capture(tb, ring, path, rx_cpu) as c:
        if record_dir is not None:
            rec = subprocess.Popen([sys.executable, "-m", "wirespeed", "record", ring, "--dir", str(record_dir),
                                    "--from", "oldest", "--rotate-mb", "256", "--keep", "2", "--prefix",
                                    "bench-maxrate", "--no-resume", "--json"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sent = _sim(tb, rate=rate, duration_s=seconds, max_payload=72)
        time.sleep(0.5)
    got = c.result.get("records", 0)
    n = sum(sent["sent_pkts"])
    out = {"rate": rate, "sent": n, "received": got, "lost": max(0, n - got), "pps": sent["pkts_per_s"],
           "msgs_per_s": sent["msgs_per_s"], "drops": {k: v for k, v in c.result.get("drops", {}).items() if v}}
    if rec is not None:
        so, se = rec.communicate(timeout=120)
        r = json.loads(so) if so.strip() else {"error": se.strip()[-300:]}
        out["recorder"] = {k: r.get(k) for k in ("written", "lost", "error") if k in r}
    return out


def _testpmd_cmd(tb: TestbedConfig, rx_cpu: int | None) -> list[str] | None:
    exe = shutil.which("dpdk-testpmd")
    if not exe:
        return None
    main = min(os.sched_getaffinity(0))  # a sender core: testpmd's main lcore idles
    lcores = f"{main},{rx_cpu}" if rx_cpu is not None and rx_cpu != main else f"{main}"
    return [exe, "-l", lcores, "--no-pci", "--no-huge", "-m", "1024", "--no-shconf", "--file-prefix", _TESTPMD_PREFIX,
            "--vdev", f"net_af_xdp0,iface={tb.host_if}", "--log-level", "lib.eal:error", "--",
            "--forward-mode=rxonly", "--auto-start", "--total-num-mbufs=32768", "--stats-period", "1"]


_TESTPMD_PREFIX = f"wsbench{os.getpid()}"


def _trial_testpmd(tb: TestbedConfig, rate: float, seconds: float, rx_cpu: int | None) -> dict[str, Any]:
    cmd = _testpmd_cmd(tb, rx_cpu)
    assert cmd is not None
    # --no-huge: EAL takes anonymous memory, so it cannot delete another
    # prefix's hugepage files (its cleanup does, without --huge-unlink).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any("Rx-pps" in ln for ln in lines):  # the first stats line: forwarding has started
            if proc.poll() is not None or time.monotonic() > deadline:
                raise WirespeedError("dpdk-testpmd did not start: " + "".join(lines[-15:]).strip()[-600:])
            time.sleep(0.1)
        base = _testpmd_rx(lines)
        sent = _sim(tb, rate=rate, duration_s=seconds, max_payload=72)
        time.sleep(1.5)  # one more stats period
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        reader.join(5)
        shutil.rmtree(runtime_dir(_TESTPMD_PREFIX), ignore_errors=True)  # --no-shconf still makes the folder
    got = _testpmd_rx(lines) - base
    n = sum(sent["sent_pkts"])
    return {"rate": rate, "sent": n, "received": got, "lost": max(0, n - got), "pps": sent["pkts_per_s"],
            "msgs_per_s": sent["msgs_per_s"], "drops": {}}


def _testpmd_rx(lines: list[str]) -> int:
    """The last RX-packets figure testpmd printed (its NIC statistics)."""
    vals = [int(m.group(1)) for ln in list(lines) if (m := re.search(r"RX-packets:\s+(\d+)", ln))]
    return vals[-1] if vals else 0


def _ceilings(trials: dict[str, Callable[[float, float], dict[str, Any]]], opts: CaptureBenchOptions,
              step: Callable[[str], None]) -> dict[str, list[dict[str, Any]]]:
    """Every receiver at the bed's ceiling (the sim flat out), interleaved,
    `repeats` rounds: the machine's speed drifts, so receivers are compared
    round by round, not minutes apart."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in trials}
    for i in range(opts.repeats):
        for name, trial in trials.items():
            step(f"max rate: the bed's ceiling, {name}, round {i + 1}/{opts.repeats} ({opts.trial_s:g} s flat out)")
            out[name].append(trial(0, opts.trial_s))
    return out


def _max_rate(trial: Callable[[float, float], dict[str, Any]], ceilings: list[dict[str, Any]],
              opts: CaptureBenchOptions, name: str, step: Callable[[str], None]) -> dict[str, Any]:
    """Loss-free at the ceiling in most rounds: hold the ceiling for
    confirm_s. Else bisect the sending rate below it, then hold the best."""
    lossless = sum(1 for c in ceilings if c["lost"] == 0)
    trials: list[dict[str, Any]] = []
    best_rate = 0.0  # 0: flat out
    if lossless * 2 <= len(ceilings):
        lo, hi = 0.0, float(np.median([c["msgs_per_s"] for c in ceilings]))
        for i in range(opts.bisect_steps):
            mid = (lo + hi) / 2 if lo else hi / 2
            step(f"max rate, {name}: bisection {i + 1}/{opts.bisect_steps} at {mid:,.0f} msg/s")
            t = trial(mid, opts.trial_s)
            trials.append(t)
            lo, hi = (mid, hi) if t["lost"] == 0 else (lo, mid)
        best_rate = lo
    step(f"max rate, {name}: holding {'the ceiling' if best_rate == 0 else f'{best_rate:,.0f} msg/s'} "
         f"for {opts.confirm_s:g} s")
    final = trial(best_rate, opts.confirm_s) if best_rate or lossless * 2 > len(ceilings) else None
    failed = None
    if final is not None and final["lost"]:  # lost during the hold: once more, 10 % slower
        failed = final
        rate = 0.9 * (best_rate or float(np.median([c["msgs_per_s"] for c in ceilings])))
        step(f"max rate, {name}: lost {final['lost']} holding; holding {rate:,.0f} msg/s for {opts.confirm_s:g} s")
        final = trial(rate, opts.confirm_s)
    ok = final is not None and final["lost"] == 0
    return {"ceilings": ceilings, "trials": trials, "hold": final, "failed_hold": failed,
            "max_pps": final["pps"] if ok else None,
            # a rate this receiver could NOT hold: an upper bound of its max when max_pps is None
            "lost_at_pps": None if ok else (final or failed or {}).get("pps"),
            "lossless_at_ceiling": best_rate == 0 and failed is None and ok}


# -- recorder ----------------------------------------------------------------------

def _record_once(directory: Path, ring: str, mb: int) -> tuple[float, float, dict[str, Any]]:
    """(recorder MB/s, dd MB/s, recorder result): one pass each."""
    from wirespeed.capture import record as rec

    t0 = time.perf_counter()
    r = rec.run(rec.RecordConfig(ring, directory, rotate_bytes=0, start="oldest", prefix="bench-record",
                                   resume=False))
    rec_s = time.perf_counter() - t0
    size = sum(Path(f).stat().st_size for f in r["files"])
    for f in r["files"]:
        Path(f).unlink()
    dd_file = directory / "bench-dd.bin"
    t0 = time.perf_counter()
    out = subprocess.run(["dd", "if=/dev/zero", f"of={dd_file}", "bs=1M", f"count={mb}", "oflag=direct"],
                         capture_output=True, text=True)
    dd_s = time.perf_counter() - t0
    dd_file.unlink(missing_ok=True)
    if out.returncode != 0:
        raise WirespeedError(f"dd failed: {out.stderr.strip()[-300:]}")
    r["bytes"] = size
    return size / 1e6 / rec_s, mb * 1048576 / 1e6 / dd_s, r


def _record(directory: Path, mb: int, repeats: int, step: Callable[[str], None]) -> dict[str, Any]:
    """The recorder against dd, alternating, `repeats` times: the medians and
    the median of the per-pair ratios (the disk's mood changes between pairs)."""
    from wirespeed.net.frames import multicast_mac, udp_frame

    ring = f"/dev/shm/wsbench-record-{os.getpid()}"
    frame = udp_frame(bytes.fromhex("020000000002"), multicast_mac(GROUP), "198.18.0.2", GROUP, 40000, PORT,
                      bytes(1400))
    n = mb * 1_000_000 // len(frame)
    Ring.create(ring, size=f"{max(512, 2 * mb)}M")
    pairs = []
    try:
        step(f"recorder: {n:,} frames of {len(frame)} bytes into a ring")
        with RingWriter(ring) as w:
            w.describe({"streams": [{"id": 1, "name": "bench", "group": GROUP, "port": PORT, "line": "A"}]})
            data = np.frombuffer(frame * 1000, dtype=np.uint8)
            lengths = np.full(1000, len(frame), dtype=np.uint32)
            for _ in range(n // 1000):
                w.append_batch(data, lengths, stream=1)
        for i in range(repeats):
            step(f"recorder: ring -> pcapng vs dd oflag=direct in {directory}, pair {i + 1}/{repeats}")
            pairs.append(_record_once(directory, ring, mb))
    finally:
        Path(ring).unlink(missing_ok=True)
    return {"record_mb_per_s": float(np.median([p[0] for p in pairs])),
            "dd_mb_per_s": float(np.median([p[1] for p in pairs])),
            "record_over_dd": float(np.median([p[0] / p[1] for p in pairs])),
            "record_pairs_mb_per_s": [[round(p[0]), round(p[1])] for p in pairs],
            "record_frames": pairs[-1][2]["written"], "record_lost": pairs[-1][2]["lost"],
            "record_bytes": pairs[-1][2]["bytes"], "record_dir": str(directory)}


# -- all of it -----------------------------------------------------------------------

def run(opts: CaptureBenchOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    def step(msg: str) -> None:
        if progress:
            progress(msg)

    # the sim's threads inherit the narrowed cores; the rx thread pins itself to rx_cpu
    with testbed.provided(step) as tb, cap.receive_core() as rx_cpu, hugepages_for_dpdk(DPDK_MB, step) as mem:
        res = _run(tb, rx_cpu, opts, step)
        res["dpdk_memory"] = mem
    res["goals"] = goals_report(GOALS + (DPDK_GOALS if "dpdk" in PATHS else []), res)
    return res


def _run(tb: TestbedConfig, rx_cpu: int | None, opts: CaptureBenchOptions, step: Callable[[str], None]
         ) -> dict[str, Any]:
    ring = f"/dev/shm/wsbench-capture-{os.getpid()}"
    rec_dir = Path(opts.record_dir) if opts.record_dir else Path(tempfile.mkdtemp(prefix="wsbench-", dir="/var/tmp"))
    res: dict[str, Any] = {"rx_cpu": rx_cpu, "sender_cpus": sorted(os.sched_getaffinity(0))}
    try:
        if opts.latency:
            res.update(_latency(tb, ring, opts, rx_cpu, step))
        drains: dict[str, list[dict[str, Any]]] = {p: [] for p in PATHS}
        for i in range(opts.repeats):  # interleaved, like everything compared
            for path in PATHS:
                step(f"drain of {opts.drain_pkts:,} queued packets, {path}, run {i + 1}/{opts.repeats}")
                drains[path].append(_drain_once(tb, ring, path, opts.drain_pkts, rx_cpu))
        for path, ds in drains.items():
            rates = [d["drain_pps"] for d in ds if d["drain_pps"]]
            res[f"drain_{path}"] = ds[-1]
            res[f"drain_pps_{path}"] = float(np.median(rates)) if rates else None
            res[f"drain_pps_runs_{path}"] = [d["drain_pps"] for d in ds]
            walls = [d["drain_pps_wall"] for d in ds if d["drain_pps_wall"]]
            res[f"drain_pps_wall_{path}"] = float(np.median(walls)) if walls else None
        kern = max(res["drain_pps_kernel_block"] or 0, res["drain_pps_kernel_busy"] or 0)
        res["drain_af_xdp_over_kernel"] = res["drain_pps_af_xdp"] / kern if kern and res["drain_pps_af_xdp"] else None
        # run by run: af_xdp over the better kernel path of the same round
        pairs = [x / max(a or 0, b or 0) for x, a, b in zip(*(res[f"drain_pps_runs_{p}"] for p in
                                                            ("af_xdp", "kernel_block", "kernel_busy")))
                 if x and (a or b)]
        res["drain_af_xdp_over_kernel_runs"] = pairs
        if "dpdk" in PATHS:  # cost per packet is 1 / rate: af_xdp's rate over dpdk's, round by round, same count
            runs = [x["drain_pps_short"] / d["drain_pps_short"] for x, d in zip(drains["af_xdp"], drains["dpdk"])
                    if x["drain_pps_short"] and d["drain_pps_short"]]
            res["drain_cost_dpdk_over_af_xdp_runs"] = runs
            res["drain_cost_dpdk_over_af_xdp"] = float(np.median(runs)) if runs else None
        trials: dict[str, Callable[[float, float], dict[str, Any]]] = {
            p: (lambda rate, secs, p=p: _trial_capture(tb, ring, p, rate, secs, rx_cpu)) for p in PATHS}
        if opts.testpmd and _testpmd_cmd(tb, rx_cpu):
            trials["testpmd"] = lambda rate, secs: _trial_testpmd(tb, rate, secs, rx_cpu)
        else:
            res["peers_missing"] = ["dpdk-testpmd (apt-get install dpdk-dev librte-net-af-xdp23)"]
        ceil = _ceilings(trials, opts, step)
        for name, trial in trials.items():
            m = _max_rate(trial, ceil[name], opts, name, step)
            res[f"max_rate_{name}"] = m
            res[f"max_pps_{name}"] = m["max_pps"]
        res.setdefault("max_pps_testpmd", None)
        a, b = res["max_pps_af_xdp"], res["max_pps_testpmd"]
        res["max_pps_af_xdp_over_testpmd"] = a / b if a and b else None
        lost_at = (res.get("max_rate_testpmd") or {}).get("lost_at_pps")
        if a and not b and lost_at:  # testpmd held no rate: af_xdp's held rate over one testpmd lost at
            res["max_pps_af_xdp_over_testpmd"] = a / lost_at
            res["max_pps_af_xdp_over_testpmd_is_lower_bound"] = True
        if "testpmd" in ceil:  # round by round, both loss-free: the fairest comparison this bed allows
            pairs = [x["pps"] / y["pps"] for x, y in zip(ceil["af_xdp"], ceil["testpmd"])
                     if x["lost"] == 0 and y["lost"] == 0]
            res["ceiling_pps_af_xdp_over_testpmd"] = float(np.median(pairs)) if pairs else None
        if "dpdk" in PATHS:
            d, t = res.get("max_pps_dpdk"), res.get("max_pps_testpmd")
            res["max_pps_dpdk_over_testpmd"] = d / t if d and t else None
            res["max_pps_dpdk_over_af_xdp"] = d / a if d and a else None
            if "testpmd" in ceil:
                pairs = [x["pps"] / y["pps"] for x, y in zip(ceil["dpdk"], ceil["testpmd"])
                         if x["lost"] == 0 and y["lost"] == 0]
                res["ceiling_pps_dpdk_over_testpmd"] = float(np.median(pairs)) if pairs else None
        res["af_xdp_lossless_at_ceiling"] = 1.0 if res["max_rate_af_xdp"]["lossless_at_ceiling"] else 0.0
        hold = res["max_rate_af_xdp"]["hold"]
        if hold is not None:
            step(f"recorder alongside af_xdp at its max rate for {opts.confirm_s / 2:g} s")
            r = _trial_capture(tb, ring, "af_xdp", hold["rate"], opts.confirm_s / 2, rx_cpu, rec_dir)
            res["record_at_max_rate"] = r
            rec = r.get("recorder") or {}
            res["record_lost_at_max_rate"] = (rec["lost"] + r["lost"]) if "lost" in rec else None
        else:
            res["record_lost_at_max_rate"] = None
        res.update(_record(rec_dir, opts.record_mb, max(opts.repeats, 3), step))
    finally:
        Path(ring).unlink(missing_ok=True)
        if not opts.record_dir:
            shutil.rmtree(rec_dir, ignore_errors=True)
        else:  # the user's folder: take away only what the benchmark wrote
            for f in [*rec_dir.glob("bench-*.pcapng"), *rec_dir.glob(".bench-*.state.json"), rec_dir / "bench-dd.bin"]:
                f.unlink(missing_ok=True)
    return res
