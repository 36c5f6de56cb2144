"""`wirespeed bench`: the whole-project benchmark, seed 001's Key Results
made something anyone can rerun, and the folder it writes.

On the test host (root), with the receive thread pinned to a core of its own
and the senders on the others:

  * scenarios - single feed; four feeds on four groups; one feed with
    non-feed multicast on the same interface; one feed sent in bursts at the
    bed's ceiling. In each, every path (kernel_block, kernel_busy, af_xdp)
    runs `repeats` times, interleaved (the machine's speed drifts, so paths
    are compared run by run, not minutes apart), each run into a fresh ring.
    One-way latency per message is cut in two where its packet left the
    sender: generated -> sent = the kernel's TX stamp of the packet (taken
    as veth's driver takes the frame, SO_TIMESTAMPING) - the message's ITCH
    timestamp (taken as the simulator built the packet), and sent ->
    received = the ring record's stamp (at dequeue) - that TX stamp; all
    CLOCK_REALTIME. Sent -> received is each path's `latency_ns`, what the
    Key Results and the plots show: the sender's own delays are not the
    receiver's. Generated -> received (the old single figure) and
    generated -> sent are kept under `parts`. The first `warmup_s` of each
    run is left out; loss = datagrams sent - records received; receiver
    CPU time = the receive thread's schedstat over the send. Distributions
    are HdrHistograms merged over the runs; the spread is the range of the
    per-run figures, and each tail percentile has a 95 % band from the
    order statistics and a flag saying whether each run had enough samples
    beyond it (ten or more) to be compared at all.
  * peers, same run, same bed - sockperf ping-pong (kernel UDP, blocking;
    half the round trip, as sockperf reports it) in the single-feed
    scenario; dpdk-testpmd (net_af_xdp vdev, rxonly) in the max loss-free
    rate measurement. A peer that is not installed is listed as missing.
  * sub-benchmarks - `bench ring`, `bench sim` and `bench capture` (drain,
    max loss-free rate with dpdk-testpmd, recorder vs dd; its latency part is
    the scenarios above), their results under "sub" in the same file.

run() returns the results (schema SCHEMA); render.write() turns them into
results.json, report.md, PNG plots and report.html.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed.capture import runner as cap
from wirespeed.exchange import sim as S
from wirespeed.host import testbed
from wirespeed.bench import capture as cb
from wirespeed.bench import hist, machine
from wirespeed.bench.common import (Goal, goals_report, hugepages_for_dpdk, send_stamped, sockperf_ping_pong,
                                    thread_cpu_ns)
from wirespeed.errors import UsageError
from wirespeed.feed.latency import LatencyMeter, possible
from wirespeed.host.testbed import TestbedConfig
from wirespeed.transports.af_xdp import AfXdpOptions
from wirespeed.transports.dpdk import DpdkOptions

SCHEMA = "wirespeed-bench/2"  # 2: latency_ns is sent -> received (1: generated -> received)
PATHS = tuple(cb.PATHS)  # kernel_block, kernel_busy, af_xdp, and dpdk where wirespeed was built with it
KERNEL, BYPASS = "kernel_block", "af_xdp"  # the Key Results columns: seed 001's kernel driver vs bypass
DPDK = "dpdk"  # a third column where the machine has it (bench/capture.py: on this bed, DPDK's net_af_xdp)
FEED_GROUPS = ("239.9.8.1", "239.9.8.2", "239.9.8.3", "239.9.8.4")
FEED_PORT = 30998
NOISE_GROUP, NOISE_PORT = "239.9.9.99", 40999
SOCKPERF_PORT = 11998


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    what: str
    feeds: int = 1
    rate: float = 10_000.0        # messages/s over all feeds
    burst: int = 0                # messages per burst (0: evenly paced)
    max_payload: int = 1400
    background_pps: float = 0.0   # non-feed packets/s on the same interface
    sockperf: bool = False        # the kernel UDP ping-pong peer runs here


SCENARIOS = (
    Scenario("single", "Single feed", "one MoldUDP64 feed on one group, 10 k msg/s evenly paced", sockperf=True),
    Scenario("multi", "Multiple feeds", "four feeds on four groups, 10 k msg/s each (40 k msg/s)", feeds=4,
             rate=40_000.0),
    Scenario("background", "Background traffic", "one feed at 10 k msg/s, plus 100 k pkt/s of non-feed UDP "
             "multicast on the same interface", background_pps=100_000.0, sockperf=True),
    Scenario("bursts", "Bursts", "one feed, bursts of 500 one-message packets sent flat out (the bed's ceiling), "
             "20 bursts/s", rate=10_000.0, burst=500, max_payload=72),
)


@dataclass(frozen=True)
class ReportOptions:
    run_s: float = 4.0            # one scenario run of one path
    warmup_s: float = 0.5         # left out of each run's latency
    repeats: int = 3
    seed: int = 1
    scenarios: tuple[str, ...] = tuple(s.name for s in SCENARIOS)
    sockperf: bool = True
    testpmd: bool = True
    sub: bool = True              # ring, sim and capture sub-benchmarks
    quick: bool = False
    capture: cb.CaptureBenchOptions = field(default_factory=lambda: cb.CaptureBenchOptions(
        latency=False, confirm_s=10.0, record_mb=256))

    def validate(self) -> ReportOptions:
        names = {s.name for s in SCENARIOS}
        bad = [s for s in self.scenarios if s not in names]
        if bad:
            raise UsageError(f"unknown scenario {', '.join(bad)}", f"choose from {', '.join(sorted(names))}")
        if self.repeats < 1 or self.run_s <= self.warmup_s or self.warmup_s < 0:
            raise UsageError("repeats must be >= 1 and a run longer than its warm-up")
        return self


QUICK = ReportOptions(run_s=1.2, warmup_s=0.2, repeats=1, quick=True, capture=cb.CaptureBenchOptions(
    latency=False, drain_pkts=10_000, repeats=1, trial_s=1.0, confirm_s=2.0, bisect_steps=2, record_mb=32))


Step = Callable[[str], None]


# -- one run of one path in one scenario -------------------------------------------

def _feeds(sc: Scenario) -> list[cap.FeedSpec]:
    return [cap.FeedSpec(f"feed{k + 1}", FEED_GROUPS[k], FEED_PORT) for k in range(sc.feeds)]


def _capture_cfg(tb: TestbedConfig, sc: Scenario, ring: str, path: str, rx_cpu: int | None) -> cap.CaptureConfig:
    transport, mode = cb.PATHS[path]
    return cap.CaptureConfig(iface=tb.host_if, feeds=_feeds(sc), ring=ring, ring_size="512M", transport=transport,
                             mode=mode, stamp="user", cpu=rx_cpu, xdp=AfXdpOptions(),
                             dpdk=DpdkOptions(port=f"net_af_xdp0,iface={tb.host_if}"))


def _sim_cfg(tb: TestbedConfig, sc: Scenario, opts: ReportOptions) -> S.SimConfig:
    lines = [S.Line(FEED_GROUPS[k], FEED_PORT, feed=k) for k in range(sc.feeds)]
    return S.SimConfig(lines=lines, rate=sc.rate, burst=sc.burst, duration_s=opts.run_s, seed=opts.seed,
                       symbols=max(8, sc.feeds), max_payload=sc.max_payload, netns=tb.netns, iface=tb.peer_if,
                       source=tb.peer_addr, send="raw")


def _noise(tb: TestbedConfig, pps: float, seconds: float, seed: int) -> S.Running:
    """Non-feed multicast from the test host, sending in the background from now (S.start)."""
    return S.start(S.SimConfig(lines=[S.Line(NOISE_GROUP, NOISE_PORT)], rate=pps, duration_s=seconds, seed=seed + 99,
                               max_payload=72, session="NOISE", netns=tb.netns, iface=tb.peer_if,
                               source=tb.peer_addr, send="raw"))


def _rx_cpu_ns() -> int | None:
    """The receive thread's CPU time; it names itself a moment after the capture is ready."""
    deadline = time.monotonic() + 1.0
    while (v := thread_cpu_ns()) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return v


def _one_run(tb: TestbedConfig, sc: Scenario, path: str, ring: str, opts: ReportOptions,
             rx_cpu: int | None) -> dict[str, Any]:
    Path(ring).unlink(missing_ok=True)
    with cap.Background(_capture_cfg(tb, sc, ring, path, rx_cpu)) as c:
        cpu0 = _rx_cpu_ns()
        noise = _noise(tb, sc.background_pps, opts.run_s + 0.5, opts.seed) if sc.background_pps else None
        if noise:
            time.sleep(0.2)  # the noise is already flowing when the feed starts
        sent, sent_log = send_stamped(_sim_cfg(tb, sc, opts))
        cpu1 = thread_cpu_ns()
        noise_sent = noise.wait() if noise else None
        time.sleep(0.3)  # the last packets into the ring
    meter = LatencyMeter(ring)
    meter.drain()
    counts = meter.finish()
    _rx, gen_rx, impossible = meter.arrays(opts.warmup_s)
    parts = meter.split(sent_log, opts.warmup_s)
    Path(ring).unlink(missing_ok=True)
    n_sent = int(sum(sent["sent_pkts"]))
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    out: dict[str, Any] = {
        "sent_pkts": n_sent, "sent_msgs": int(sent["msgs"]), "received_pkts": counts["packets"],
        "lost_pkts": max(0, n_sent - counts["packets"]), "seq_gaps": counts["seq_gaps"],
        "drops": {k: v for k, v in c.result.get("drops", {}).items() if v},
        "cpu_ns": cpu, "cpu_ns_per_pkt": cpu / counts["packets"] if cpu and counts["packets"] else None,
        "hist": hist.from_ns(parts["sent_rx"]), "rx_ns": parts["rx_ns"], "lat_ns": parts["sent_rx"],
        "hist_gen_rx": hist.from_ns(gen_rx), "hist_gen_sent": hist.from_ns(parts["gen_sent"]),
        "unstamped": parts["unstamped"], "impossible": impossible + parts["impossible"],
        "tx_stamps_unmatched": sent.get("tx_stamps_unmatched", 0),
    }
    if noise_sent:
        out["noise_pkts"] = int(sum(noise_sent["sent_pkts"]))
    return out


# -- sockperf, the kernel UDP peer -------------------------------------------------------

def _sockperf_once(tb: TestbedConfig, sc: Scenario, opts: ReportOptions, rx_cpu: int | None) -> dict[str, Any]:
    noise = _noise(tb, sc.background_pps, opts.run_s + 1.5, opts.seed) if sc.background_pps else None
    try:
        return _sockperf_run(tb, sc.rate, opts, rx_cpu)
    finally:
        if noise:
            noise.wait()


def _sockperf_run(tb: TestbedConfig, rate: float, opts: ReportOptions, rx_cpu: int | None) -> dict[str, Any]:
    exe = shutil.which("sockperf")
    assert exe is not None
    server_cmd = [exe, "server", "-i", tb.host_addr, "-p", str(SOCKPERF_PORT)]
    if rx_cpu is not None:
        server_cmd = ["taskset", "-c", str(rx_cpu), *server_cmd]
    tx, lat = sockperf_ping_pong(server_cmd, ["ip", "netns", "exec", tb.netns, exe, "ping-pong", "-i", tb.host_addr,
                                              "-p", str(SOCKPERF_PORT), "-t", f"{max(1, round(opts.run_s))}",
                                              "--mps", f"{rate:.0f}"], opts.run_s)
    keep = tx >= (tx[0] if len(tx) else 0) + opts.warmup_s
    lat_ns = np.round(lat[keep] * 1000).astype(np.int64)
    rx_ns = np.round(tx[keep] * 1e9).astype(np.int64)
    ok = possible(lat_ns)
    return {"sent_pkts": int(len(tx)), "received_pkts": int(len(tx)), "lost_pkts": 0, "cpu_ns_per_pkt": None,
            "hist": hist.from_ns(lat_ns[ok]), "rx_ns": rx_ns[ok], "lat_ns": lat_ns[ok],
            "impossible": int((~ok).sum())}


# -- a scenario: every path, interleaved, `repeats` times --------------------------------

def _spread(values: list[float | None]) -> list[float] | None:
    v = [x for x in values if x is not None]
    return [float(min(v)), float(np.median(v)), float(max(v))] if v else None


def _timeline(rx_ns: np.ndarray, lat_ns: np.ndarray, bins: int = 400) -> dict[str, list[float]]:
    """Latency over time, binned: per bin its start (s from the run's start), p50 and max (ns)."""
    if not len(rx_ns):
        return {"t_s": [], "p50_ns": [], "max_ns": []}
    t = (rx_ns - rx_ns[0]) / 1e9
    edges = np.linspace(0, max(float(t[-1]), 1e-6), bins + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    order = np.argsort(idx, kind="stable")
    splits = np.flatnonzero(np.diff(idx[order])) + 1
    out: dict[str, list[float]] = {"t_s": [], "p50_ns": [], "max_ns": []}
    for group in np.split(order, splits):
        if len(group):
            out["t_s"].append(round(float(edges[idx[group[0]]]), 4))
            out["p50_ns"].append(float(np.median(lat_ns[group])))
            out["max_ns"].append(float(lat_ns[group].max()))
    return out


TAILS = {"p99": 99.0, "p999": 99.9, "p9999": 99.99}
MIN_BEYOND = 10  # a tail percentile is compared only where every run had this many samples beyond it


def _distribution(hists: list[Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Runs' histograms of one figure: the merged summary, the per-run spread,
    95 % bands of the tails and which tails every run can vouch for; and
    each run's own summary."""
    merged = hist.merge(hists)
    per_run = [hist.summary(h) for h in hists]
    fewest = min((p.get("count", 0) for p in per_run), default=0)
    return {
        "latency_ns": hist.summary(merged),
        "spread_ns": {q: _spread([p.get(q) for p in per_run]) for q in (*hist.PERCENTILES, "max", "stddev")},
        "band_ns": {q: hist.band(merged, pct) for q, pct in TAILS.items()},
        "samples_per_run_min": fewest,
        "late_fraction": _late(merged),
        "tail_judged": {q: hist.beyond(fewest, pct) >= MIN_BEYOND for q, pct in TAILS.items()},
        "hdr": hist.encode(merged),
    }, per_run


def _late(h: Any) -> float | None:
    """The share of samples above machine.LATE_NS (the tail's plateau)."""
    vals, counts = hist.points(h)
    return float(counts[vals > machine.LATE_NS].sum() / counts.sum()) if counts.sum() else None


def _summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One path in one scenario: the merged distribution (sent -> received
    where the run has TX stamps), per-run figures and their spread; the
    other cuts of the latency under "parts"."""
    d, per_run = _distribution([r["hist"] for r in runs])
    out: dict[str, Any] = {
        **d,
        "sent_pkts": sum(r["sent_pkts"] for r in runs), "received_pkts": sum(r["received_pkts"] for r in runs),
        "lost_pkts": sum(r["lost_pkts"] for r in runs),
        "impossible": sum(r.get("impossible", 0) for r in runs),
        "cpu_ns_per_pkt": _spread([r.get("cpu_ns_per_pkt") for r in runs]),
        "runs": [{**{k: v for k, v in r.items() if not k.startswith("hist") and k not in ("rx_ns", "lat_ns")},
                  "latency_ns": per_run[i], "hdr": hist.encode(r["hist"])} for i, r in enumerate(runs)],
        "timeline": _timeline(runs[-1]["rx_ns"], runs[-1]["lat_ns"]),
    }
    parts = {name: _distribution([r[f"hist_{name}"] for r in runs])[0] for name in ("gen_sent", "gen_rx")
             if all(f"hist_{name}" in r for r in runs)}
    if parts:
        out["parts"] = parts
        out["unstamped"] = sum(r.get("unstamped", 0) for r in runs)
    out["loss_ratio"] = out["lost_pkts"] / out["sent_pkts"] if out["sent_pkts"] else None
    if out["cpu_ns_per_pkt"]:
        out["cpu_ns_per_pkt_median"] = out["cpu_ns_per_pkt"][1]
    return out


def _scenario(tb: TestbedConfig, sc: Scenario, opts: ReportOptions, rx_cpu: int | None, ring: str, step: Step,
              missing: list[str]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in PATHS}
    peer = sc.sockperf and opts.sockperf
    if peer and not shutil.which("sockperf"):
        missing.append("sockperf (apt-get install sockperf)")
        peer = False
    if peer:
        runs["sockperf"] = []
    for i in range(opts.repeats):
        for path in runs:
            step(f"{sc.title}: {path}, run {i + 1}/{opts.repeats} ({opts.run_s:g} s)")
            if path == "sockperf":
                runs[path].append(_sockperf_once(tb, sc, opts, rx_cpu))
            else:
                runs[path].append(_one_run(tb, sc, path, ring, opts, rx_cpu))
    out: dict[str, Any] = {"title": sc.title, "what": sc.what, "config": asdict(sc),
                           "paths": {p: _summarise(rs) for p, rs in runs.items()}}
    # improvements run by run (the paths of one round ran a few seconds apart)
    ratios: dict[str, list[float] | None] = {}
    for q in ("p50", "p99", "p999", "stddev"):
        pairs = [a["latency_ns"].get(q, 0) / b["latency_ns"][q]
                 for a, b in zip(out["paths"][KERNEL]["runs"], out["paths"][BYPASS]["runs"])
                 if b["latency_ns"].get(q) and a["latency_ns"].get(q)]
        ratios[q] = _spread(pairs)
    out["improvement_spread"] = ratios
    return out


# -- the whole report -------------------------------------------------------------------

def run(opts: ReportOptions, progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Every measurement; `progress(message, done, total)` is told each step."""
    opts = opts.validate()
    testbed.require_privileges()  # before minutes of sub-benchmarks, not after
    started = dt.datetime.now(dt.timezone.utc)
    res: dict[str, Any] = {
        "schema": SCHEMA, "created": started.isoformat(timespec="seconds"), "command": sys.argv,
        "options": _jsonable(asdict(opts)), "machine": machine.facts(), "bed": None, "scenarios": {},
        "sub": {}, "peers_missing": [],
    }
    busy = machine.busy_now()
    res["busy_at_start"] = busy
    if busy is not None and busy > 0.15:
        res["warnings"] = [f"the machine was {busy:.0%} busy before the benchmark started: other work shares "
                           "the cores, and the figures (the tails first) show it"]
    load0 = machine.load()
    total = (len(opts.scenarios) + (3 if opts.sub else 1))
    done = 0

    def step(msg: str) -> None:
        if progress:
            progress(msg, done, total)

    timings: dict[str, float] = {}
    t_part = time.monotonic()

    def finish_task(part: str) -> None:
        nonlocal done, t_part
        done += 1
        timings[part] = round(time.monotonic() - t_part, 1)
        t_part = time.monotonic()
        step("")

    if opts.sub:
        from wirespeed.bench import ring as rb

        step("ring sub-benchmark")
        ro = rb.QUICK if opts.quick else rb.RingBenchOptions()
        res["sub"]["ring"] = _jsonable(rb.run(ro, lambda m: step(f"ring: {m}")))
        finish_task("ring")
    ring = f"/dev/shm/wsbench-report-{os.getpid()}"
    try:
        with testbed.provided(step) as tb:
            res["bed"] = _bed(tb)
            if opts.sub:
                from wirespeed.bench import sim as sb

                so = sb.SimBenchOptions(msgs=1_000_000, trafgen_pkts=200_000, repeats=1, accuracy_s=0.5) \
                    if opts.quick else sb.SimBenchOptions()
                res["sub"]["sim"] = _jsonable(sb.run(so, lambda m: step(f"sim: {m}")))
                finish_task("sim")
            # the sim's threads inherit the narrowed cores; the rx thread pins itself to rx_cpu
            with cap.receive_core() as rx_cpu, hugepages_for_dpdk(cb.DPDK_MB, step) as dpdk_mem:
                res["rx_cpu"], res["sender_cpus"] = rx_cpu, sorted(os.sched_getaffinity(0))
                res["dpdk_memory"] = dpdk_mem
                if rx_cpu is not None and opts.scenarios:
                    step("the cores' own stalls (a spinning thread on each, nothing else of ours)")
                    probed = machine.cores_stalls([rx_cpu, *res["sender_cpus"][:1]], 2 * opts.run_s)
                    res["rx_core_stalls"] = probed[str(rx_cpu)]
                    res["sender_core_stalls"] = next((v for k, v in probed.items() if k != str(rx_cpu)), None)
                for sc in SCENARIOS:
                    if sc.name in opts.scenarios:
                        res["scenarios"][sc.name] = _scenario(tb, sc, opts, rx_cpu, ring, step, res["peers_missing"])
                        finish_task(sc.name)
                co = replace(opts.capture, testpmd=opts.testpmd)
                c = cb._run(tb, rx_cpu, co, lambda m: step(f"capture: {m}"))
                c["goals"] = goals_report([g for g in cb.GOALS if not g.key.startswith("lat_")], c)
                res["peers_missing"] += c.pop("peers_missing", [])
                res["sub"]["capture"] = _jsonable(c)
                finish_task("capture")
    finally:
        Path(ring).unlink(missing_ok=True)
    res["timings_s"] = timings
    impossible = sum(p.get("impossible", 0) for sc in res["scenarios"].values() for p in sc.get("paths", {}).values())
    if impossible:
        res.setdefault("warnings", []).append(
            f"{impossible:,} latency samples were impossible (below 0 or above 100 s: a clock stepped, or two "
            "cores' clocks disagree) and were left out of the figures; each path's count is its 'impossible'")
    res["load"] = machine.busy_during(load0, machine.load())
    res["elapsed_s"] = round((dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 1)
    unstamped = sum(p.get("unstamped", 0) for sc in res["scenarios"].values() for p in sc["paths"].values())
    if unstamped:
        res.setdefault("warnings", []).append(
            f"{unstamped:,} messages' packets had no kernel TX stamp (the sender's error queue overflowed?) and "
            "are missing from the sent -> received figures; their generated -> received latency is kept")
    res["key_results"] = key_results(res)
    res.update(latency_figures(res))
    res.update(dpdk_figures(res))
    res["goals"] = goals_report(GOALS, res) if res["scenarios"] else []
    return res


GOALS = [
    Goal("single feed p99: kernel_block / af_xdp (sent -> received)", "lat_p99_kernel_block_over_af_xdp_single",
         ">=", 2.5),
    Goal("background p99: kernel_block / af_xdp (sent -> received)", "lat_p99_kernel_block_over_af_xdp_background",
         ">=", 2.5),
    *(Goal(f"{sc.name} p99: kernel_busy / af_xdp, af_xdp no worse", f"lat_p99_kernel_busy_over_af_xdp_{sc.name}",
           ">=", 1.0) for sc in SCENARIOS),
]


def latency_figures(res: dict[str, Any]) -> dict[str, float | None]:
    """The top level of --json: per path in the single-feed scenario
    lat_us_{p50,p99}_<path> (generated -> received, as `bench capture`
    reports it), ..._sent (sent -> received) and ..._gen (generated ->
    sent); per scenario the p99 ratios the goals judge (sent -> received)."""
    out: dict[str, float | None] = {}
    single = (res.get("scenarios", {}).get("single") or {}).get("paths", {})
    for path, v in single.items():
        if path == "sockperf":
            continue
        cuts = {"_sent": v.get("latency_ns", {}), "": ((v.get("parts") or {}).get("gen_rx") or {}).get("latency_ns"),
                "_gen": ((v.get("parts") or {}).get("gen_sent") or {}).get("latency_ns")}
        for suffix, lat in cuts.items():
            for q in ("p50", "p99"):
                x = (lat or {}).get(q)
                out[f"lat_us_{q}_{path}{suffix}"] = x / 1000 if x is not None else None
    for name, sc in res.get("scenarios", {}).items():
        b = sc["paths"].get(BYPASS, {}).get("latency_ns", {}).get("p99")
        for other in ("kernel_block", "kernel_busy"):
            a = sc["paths"].get(other, {}).get("latency_ns", {}).get("p99")
            out[f"lat_p99_{other}_over_af_xdp_{name}"] = a / b if a and b else None
    return out


def dpdk_figures(res: dict[str, Any]) -> dict[str, float | None]:
    """The dpdk path's rate figures at the top level of --json (absent where
    the machine has no dpdk transport; its latency is in latency_figures)."""
    cap_res = res.get("sub", {}).get("capture") or {}
    if "drain_pps_dpdk" not in cap_res:
        return {}
    return {"drain_pps_dpdk": cap_res.get("drain_pps_dpdk"), "max_pps_dpdk": cap_res.get("max_pps_dpdk")}


def _bed(tb: TestbedConfig) -> dict[str, Any]:
    return {"kind": "veth pair into a network namespace (the test host); native XDP in copy mode, no zero-copy",
            "host_if": tb.host_if, "peer_if": tb.peer_if, "netns": tb.netns,
            "note": "the sender's CPU runs the receiver's veth, XDP and kernel stack work, so rates are "
                    "sender-bound and the receive thread's CPU time is not the whole receive cost"}


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, np.generic):
        return v.item()
    return v


# -- Key Results ---------------------------------------------------------------------------

def key_results(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Seed 001's table: scenario, metric, kernel, bypass, improvement (kernel / bypass,
    so > 1 is the bypass winning), with the spread of the per-run improvement.
    Latency rows are sent -> received; `judged` is False for a tail figure
    some run had fewer than MIN_BEYOND samples beyond (shown greyed)."""
    rows: list[dict[str, Any]] = []

    def row(scenario: str, metric: str, unit: str, kernel: float | None, bypass: float | None,
            spread: list[float] | None = None, higher_is_better: bool = False, dpdk: float | None = None,
            judged: bool = True) -> None:
        imp = None
        if kernel and bypass:
            imp = bypass / kernel if higher_is_better else kernel / bypass
        rows.append({"scenario": scenario, "metric": metric, "unit": unit, "kernel": kernel, "bypass": bypass,
                     "dpdk": dpdk, "improvement": imp, "improvement_spread": spread, "judged": judged})

    cap_res = res.get("sub", {}).get("capture") or {}
    for name, sc in res["scenarios"].items():
        k, b = sc["paths"][KERNEL], sc["paths"][BYPASS]
        d = sc["paths"].get(DPDK)
        sp = sc.get("improvement_spread", {})
        for q, label in (("p50", "Median latency"), ("p99", "P99 latency"), ("p999", "P99.9 latency"),
                         ("stddev", "Jitter (std dev)")):
            # a tail (and the jitter, which the tail makes) is judged only where every run of both
            # paths had enough samples beyond it; otherwise the row is shown, greyed, not claimed
            tail = "p999" if q == "stddev" else q
            judged = all((v.get("tail_judged") or {}).get(tail, True) for v in (k, b))
            row(sc["title"], label, "ns", k["latency_ns"].get(q), b["latency_ns"].get(q), sp.get(q),
                dpdk=d["latency_ns"].get(q) if d else None, judged=judged)
        rows.append({"scenario": sc["title"], "metric": "Loss", "unit": "packets", "kernel": k["lost_pkts"],
                     "bypass": b["lost_pkts"], "dpdk": d["lost_pkts"] if d else None, "improvement": None,
                     "improvement_spread": None})
        if name == "single" and cap_res:
            _rate_rows(cap_res, row)
    if "single" not in res["scenarios"] and cap_res:
        _rate_rows(cap_res, row)
    return rows


def _rate_rows(cap_res: dict[str, Any], row: Callable[..., None]) -> None:
    """The single-feed rate figures of the capture sub-benchmark."""
    row("Single feed", "Max loss-free rate", "pkt/s", cap_res.get("max_pps_kernel_block"),
        cap_res.get("max_pps_af_xdp"), None, higher_is_better=True, dpdk=cap_res.get("max_pps_dpdk"))
    dk = max(cap_res.get("drain_pps_kernel_block") or 0, cap_res.get("drain_pps_kernel_busy") or 0) or None
    dx, dd = cap_res.get("drain_pps_af_xdp"), cap_res.get("drain_pps_dpdk")
    row("Single feed", "Receive cost per packet (drain)", "ns", 1e9 / dk if dk else None, 1e9 / dx if dx else None,
        _spread(cap_res.get("drain_af_xdp_over_kernel_runs") or []), dpdk=1e9 / dd if dd else None)
