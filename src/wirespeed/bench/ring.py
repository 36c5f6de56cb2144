"""`wirespeed bench ring`: the ring against the physical floor and its peers.

Measured in one run, on this machine:
  * cache-line ping-pong between the two cores (the floor for any handoff)
    interleaved round by round with the ring's one-way latency, since this
    shared VM moves its vCPUs around: the ratio is taken within each round;
  * C writer -> C reader throughput, separate processes on separate cores,
    64-byte records, as a loss-free rate: the highest writer rate at which
    the reader (batched reads, payloads copied) loses nothing, found by a
    search as the capture's max loss-free rate is; beside it the same
    search for the bare limit, a probe handing 64-byte lines (each with its
    sequence number, stored with release, followed with acquire loads and
    re-checked) between the same cores; rounds interleaved;
  * the Python batch reader (numpy headers) draining a full ring;
  * peers moving the same 64-byte records between two processes:
    multiprocessing.Queue, faster-fifo, pyzmq over ipc://;
  * the writer's rate alone and with four readers attached (one slow).
"""
from __future__ import annotations

import mmap
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wirespeed import _native
from wirespeed.bench.common import Goal, goals_report, collect, cpus, percentiles_ns, run_child, tsc_hz
from wirespeed.ring import Ring, RingError, RingReader

REC = 64

GOALS = [
    Goal("C writer -> C reader, 64 B records, loss-free", "ring_c_rec_per_s", ">=", 30e6),
    Goal("ring loss-free rate / bare 64-byte lines probe's", "ring_lossfree_over_probe", ">=", 0.7),
    Goal("one-way latency p50 / ping-pong p50", "ring_lat_over_pingpong", "<=", 3.0),
    Goal("Python batch reader", "ring_py_rec_per_s", ">=", 5e6),
    Goal("C ring / best peer", "ring_c_over_best_peer", ">=", 50.0),
    Goal("writer paced at 10 M rec/s, 4 readers attached: achieved / target", "writer_paced_4readers_ratio", ">=", 0.98),
]


@dataclass(frozen=True)
class RingBenchOptions:
    records: int = 20_000_000  # a flat-out throughput trial
    trial_s: float = 2.0       # a paced throughput trial
    tp_rounds: int = 3         # loss-free searches of the ring and the probe, interleaved
    search_steps: int = 5
    lat_records: int = 50_000  # per latency round
    rounds: int = 5
    py_records: int = 4_000_000
    peer_records: int = 200_000
    directory: Path = Path("/dev/shm")


QUICK = RingBenchOptions(records=5_000_000, rounds=2, py_records=1_000_000, peer_records=50_000, trial_s=0.5,
                         tp_rounds=1, search_steps=2)


class _Rings:
    """Fresh ring files for each measurement, all removed at the end."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wirespeed-bench-", dir=directory))
        self.n = 0

    def new(self, size: int, entries: int) -> str:
        self.n += 1
        path = self.dir / f"ring{self.n}"
        Ring.create(path, size=size, entries=entries)
        return str(path)

    def drop(self, path: str) -> None:
        Path(path).unlink(missing_ok=True)

    def close(self) -> None:
        for p in self.dir.iterdir():
            p.unlink()
        self.dir.rmdir()


def _writer(path: str, n: int, gap: int) -> int:
    return _native.bench_ring_writer(path, n, REC, gap)


def _reader(path: str, last: int, timeout: int, lat_n: int) -> tuple[int, int, int, np.ndarray | None, int]:
    """(got, lost, elapsed ticks, latency samples, impossible): receipts the C
    reader stamped before the record's own stamp are not latencies; it
    leaves them out and counts them."""
    lat = np.zeros(lat_n, dtype=np.uint64) if lat_n else None
    got, lost, el, samples, impossible = _native.bench_ring_reader(path, last, timeout, lat)
    return got, lost, el, (lat[:samples] if lat is not None else None), impossible


def _pair(path: str, n: int, gap: int, lat: bool, hz: float, a: int, b: int) -> dict[str, Any]:
    """Reader on core b started first (it waits at `latest`), then the writer on core a."""
    rp, rc = run_child(_reader, path, n, int(2 * hz), n if lat else 0, cpu=b)
    time.sleep(0.2)  # the reader joins at latest: let it join before the first record
    wp, wc = run_child(_writer, path, n, gap, cpu=a)
    w_el = collect(wp, wc)
    got, lost, r_el, samples, impossible = collect(rp, rc)
    return {"w_el": w_el, "got": got, "lost": lost, "r_el": r_el, "lat": samples, "impossible": impossible}


def lossfree_rate(trial: Callable[[float | None], dict[str, Any]], steps: int) -> dict[str, Any]:
    """The highest writer rate with nothing lost: trial(rate) runs the writer
    paced at `rate` (None: flat out) with one reader and returns its
    achieved "rate", "got" and "lost". A flat-out trial the reader follows
    without loss is the answer (no paced writer goes faster); otherwise a
    bisection between nothing and the flat-out rate, `steps` trials, the
    best achieved rate of a loss-free trial kept (None if none was)."""
    flat = trial(None)
    out: dict[str, Any] = {"flat_out": flat, "trials": []}
    if flat["lost"] == 0 and flat["got"]:
        out["rate"] = flat["rate"]
        return out
    lo, hi, best = 0.0, flat["rate"], None
    for _ in range(steps):
        target = (lo + hi) / 2 if lo else hi / 2
        t = trial(target)
        out["trials"].append({"target": target, **t})
        if t["lost"] == 0 and t["got"]:
            best = max(best or 0.0, t["rate"])
            lo = target
        else:
            hi = target
    out["rate"] = best
    return out


def _trial_size(rate: float | None, opts: RingBenchOptions, hz: float) -> tuple[int, int]:
    """(records, gap in ticks) of one throughput trial: flat out (gap 0) or paced at `rate`."""
    if rate is None:
        return opts.records, 0
    return max(1_000_000, int(rate * opts.trial_s)), max(1, int(hz / rate))


def _ring_trial(rings: _Rings, rate: float | None, opts: RingBenchOptions, hz: float, a: int, b: int
                ) -> dict[str, Any]:
    n, gap = _trial_size(rate, opts, hz)
    path = rings.new(256 << 20, 1 << 22)
    r = _pair(path, n, gap, False, hz, a, b)
    rings.drop(path)
    return {"rate": n / (r["w_el"] / hz) if r["w_el"] else 0.0, "got": r["got"], "lost": r["lost"]}


def _probe_trial(rings: _Rings, rate: float | None, opts: RingBenchOptions, hz: float, a: int, b: int
                 ) -> dict[str, Any]:
    """The bare limit: 64-byte lines, each its own sequence number, as many as the ring has slots."""
    n, gap = _trial_size(rate, opts, hz)
    path = rings.dir / "lines"
    with open(path, "wb") as f:
        f.truncate(PROBE_LINES * 64)
    rp, rc = run_child(_lines_reader, str(path), n, int(2 * hz), cpu=b)
    time.sleep(0.2)
    wp, wc = run_child(_lines_writer, str(path), n, gap, cpu=a)
    w_el = collect(wp, wc)
    got, lost, _el = collect(rp, rc)
    path.unlink()
    return {"rate": n / (w_el / hz) if w_el else 0.0, "got": got, "lost": lost}


PROBE_LINES = 1 << 22  # the throughput ring's slots


def _lines_map(path: str) -> mmap.mmap:
    fd = os.open(path, os.O_RDWR)
    try:
        return mmap.mmap(fd, PROBE_LINES * 64)
    finally:
        os.close(fd)


def _lines_writer(path: str, n: int, gap: int) -> int:
    return _native.bench_lines_writer(_lines_map(path), n, gap)


def _lines_reader(path: str, n: int, timeout: int) -> tuple[int, int, int]:
    return _native.bench_lines_reader(_lines_map(path), n, timeout)


def _pingpong(n: int, a: int, b: int) -> np.ndarray:
    s = np.zeros(n, dtype=np.uint64)
    _native.bench_pingpong(a, b, s)
    return s[n // 10:]  # warm-up dropped


def _py_drain(path: str, n: int, copy: bool) -> float:
    with RingReader(path, "oldest") as r:
        got = 0
        t0 = time.perf_counter()
        while got < n:
            b = r.poll(max=8192, copy=copy)
            got += len(b)
            if not copy:
                b.verify()
                b.release()
            if not len(b):
                break
        el = time.perf_counter() - t0
    return got / el


# -- peers: the same 64-byte records between two processes ---------------------

def _timed_consume(recv: Any, n: int, producer: Any) -> float:
    """Records per second of n calls of recv(), timed from the second one
    (the first waits for the producer to start). recv raises when nothing
    comes for 30 s (a producer that died): an error that says what the
    producer (its run_child connection) reported, never a hang."""
    got = 0
    try:
        recv()
        t0 = time.perf_counter()
        for got in range(1, n):
            recv()
    except Exception as exc:  # noqa: BLE001 - queue.Empty, zmq.Again: what a timeout raises
        said = producer.recv()[1] if producer.poll(0) else "nothing"
        raise RuntimeError(f"a peer's producer went quiet for 30 s ({type(exc).__name__}) after {got} of {n} "
                           f"records; it reported: {said}") from None
    return (n - 1) / (time.perf_counter() - t0)


def _peer_mp_queue(n: int) -> float:
    import multiprocessing as mp

    q = mp.get_context("fork").Queue(maxsize=10000)
    rec = bytes(REC)

    def produce() -> int:
        for _ in range(n):
            q.put(rec)
        return n

    p, c = run_child(produce)
    rate = _timed_consume(lambda: q.get(timeout=30), n, c)
    collect(p, c)
    return rate


def _peer_faster_fifo(n: int) -> float:
    from faster_fifo import Queue

    q = Queue(max_size_bytes=64 << 20)
    rec = bytes(REC)

    def produce() -> int:
        batch = [rec] * 1000
        for _ in range(n // 1000):
            q.put_many(batch, block=True, timeout=30)
        return n

    p, c = run_child(produce)
    got = len(q.get_many(block=True, timeout=30, max_messages_to_get=1000))
    t0 = time.perf_counter()
    while got < n // 1000 * 1000:
        got += len(q.get_many(block=True, timeout=30, max_messages_to_get=1000))
    el = time.perf_counter() - t0
    collect(p, c)
    return (got - 1000) / el


def _peer_pyzmq(n: int) -> float:
    import multiprocessing as mp

    import zmq

    path = tempfile.mktemp(prefix="ws-zmq-", dir="/tmp")
    rec = bytes(REC)
    received = mp.get_context("fork").Event()

    def produce() -> int:
        c2 = zmq.Context()
        push = c2.socket(zmq.PUSH)
        push.connect(f"ipc://{path}")  # before the bind is fine: zmq connects once it exists
        for _ in range(n):
            push.send(rec)
        # An ipc socket closed with messages still queued may drop them, linger
        # or not (libzmq#4660): it stays open until the consumer has them all.
        received.wait(60)
        push.close(linger=0)
        c2.term()
        return n

    # The producer is forked before this process makes a zmq context: a child
    # forked while zmq's I/O threads run can hang making its own. Either that
    # or the drop above looks like a producer that "went quiet" (CI, twice).
    p, c = run_child(produce)
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.setsockopt(zmq.RCVTIMEO, 30_000)  # zmq.Again after 30 s of nothing
    pull.bind(f"ipc://{path}")
    try:
        rate = _timed_consume(pull.recv, n, c)
    finally:
        received.set()
    collect(p, c)
    pull.close()
    ctx.term()
    Path(path).unlink(missing_ok=True)
    return rate


PEERS = {"mp_queue": (_peer_mp_queue, None), "faster_fifo": (_peer_faster_fifo, "faster_fifo"),
         "pyzmq_ipc": (_peer_pyzmq, "zmq")}


def _slow_reader(path: str, seconds: float, slow: bool) -> tuple[int, int]:
    with RingReader(path, "latest") as r:
        got = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                b = r.wait(timeout=0.05, max=4096)
            except RingError:  # the writer finished and everything was read
                break
            got += len(b)
            if slow:
                time.sleep(0.01)
        return got, r.lost


def run(opts: RingBenchOptions, progress: Any = None) -> dict[str, Any]:
    def step(msg: str) -> None:
        if progress:
            progress(msg)

    cores = cpus()
    if len(cores) < 2:
        raise RuntimeError("the ring benchmark needs two cores (writer and reader on different cores)")
    a, b = cores[0], cores[1]
    hz = tsc_hz()
    res: dict[str, Any] = {"cores": [a, b], "tsc_ghz": hz / 1e9, "record_bytes": REC}
    rings = _Rings(opts.directory)
    try:
        # 1. latency vs ping-pong, interleaved
        pp_p50, lat_all, ratios = [], [], []
        impossible = {"ring": 0, "pingpong": 0}
        gap = int(hz * 2e-6)  # one record every 2 us: the reader is always waiting
        for i in range(opts.rounds):
            step(f"latency round {i + 1}/{opts.rounds}")
            pp = percentiles_ns(_pingpong(100_000, a, b), hz)
            path = rings.new(64 << 20, 1 << 18)
            r = _pair(path, opts.lat_records, gap, True, hz, a, b)
            rings.drop(path)
            lat = r["lat"][len(r["lat"]) // 10:]
            lp = percentiles_ns(lat, hz)
            impossible["ring"] += r["impossible"] + lp["impossible"]
            impossible["pingpong"] += pp["impossible"]
            if "p50" in pp and "p50" in lp:
                pp_p50.append(pp["p50"])
                ratios.append(lp["p50"] / pp["p50"])
            lat_all.append(lat)
        lat_p = percentiles_ns(np.concatenate(lat_all), hz)
        if not ratios or "p50" not in lat_p:
            raise RuntimeError(f"no possible latency sample in {opts.rounds} rounds ({impossible['ring']:,} "
                               "impossible ones): the two cores' clocks disagree")
        res.update({"pingpong_ns_p50": float(np.median(pp_p50)), "pingpong_ns_p50_rounds": pp_p50,
                    "ring_lat_ns_p50": lat_p["p50"], "ring_lat_ns_p90": lat_p["p90"],
                    "ring_lat_ns_p99": lat_p["p99"], "ring_lat_ns_p999": lat_p["p999"],
                    "ring_lat_ns_max": lat_p["max"], "ring_lat_ns_stddev": lat_p["stddev"],
                    "ring_lat_samples": lat_p["n"], "ring_lat_impossible": impossible["ring"],
                    "pingpong_impossible": impossible["pingpong"],
                    "ring_lat_over_pingpong": float(np.median(ratios)), "ring_lat_over_pingpong_rounds": ratios})
        if impossible["ring"] or impossible["pingpong"]:
            res.setdefault("warnings", []).append(
                f"{impossible['ring']:,} ring latency samples (of {lat_p['n'] + impossible['ring']:,}) and "
                f"{impossible['pingpong']:,} ping-pong samples were impossible (a receipt stamped before the "
                "send: the two cores' TSCs disagree) and were left out")

        # 2. C -> C throughput: the highest writer rate one reader follows losing
        #    nothing, against the bare limit (the lines probe) found the same way,
        #    round by round
        ring_rounds, probe_rounds = [], []
        for i in range(opts.tp_rounds):
            step(f"C writer -> C reader, loss-free rate, round {i + 1}/{opts.tp_rounds}")
            ring_rounds.append(lossfree_rate(lambda rate: _ring_trial(rings, rate, opts, hz, a, b), opts.search_steps))
            step(f"bare 64-byte lines probe, loss-free rate, round {i + 1}/{opts.tp_rounds}")
            probe_rounds.append(lossfree_rate(lambda rate: _probe_trial(rings, rate, opts, hz, a, b),
                                              opts.search_steps))
        ratios = [r["rate"] / p["rate"] for r, p in zip(ring_rounds, probe_rounds) if r["rate"] and p["rate"]]
        ring_rate = float(np.median([r["rate"] or 0.0 for r in ring_rounds]))
        res.update({"ring_c_lossfree_rec_per_s": ring_rate, "ring_c_rec_per_s": ring_rate,
                    "ring_probe_rec_per_s": float(np.median([p["rate"] or 0.0 for p in probe_rounds])),
                    "ring_lossfree_over_probe": float(np.median(ratios)) if ratios else None,
                    "ring_lossfree_over_probe_rounds": ratios,
                    "ring_c_flatout_lost": [r["flat_out"]["lost"] for r in ring_rounds],
                    "ring_c_lost": int(max(r["flat_out"]["lost"] for r in ring_rounds)),
                    # the writer flat out with the reader following (the flat-out trials)
                    "ring_c_writer_rec_per_s": float(np.median([r["flat_out"]["rate"] for r in ring_rounds])),
                    "ring_probe_flatout_lost": [p["flat_out"]["lost"] for p in probe_rounds],
                    "ring_c_records": opts.records, "ring_c_search": ring_rounds, "ring_probe_search": probe_rounds})

        # 3. Python batch reader draining a full ring
        step("Python batch reader")
        path = rings.new(opts.py_records * REC * 2, 1 << (opts.py_records - 1).bit_length())
        p, c = run_child(_writer, path, opts.py_records, 0, cpu=a)
        collect(p, c)
        res["ring_py_rec_per_s"] = max(_py_drain(path, opts.py_records, True) for _ in range(3))
        res["ring_py_zero_copy_rec_per_s"] = max(_py_drain(path, opts.py_records, False) for _ in range(3))
        rings.drop(path)

        # 4. peers
        best_peer = 0.0
        for name, (fn, module) in PEERS.items():
            step(f"peer {name}")
            try:
                if module:
                    __import__(module)
            except ImportError:
                res[f"peer_{name}_rec_per_s"] = None
                res.setdefault("peers_missing", []).append(name)
                continue
            n = opts.peer_records * (5 if name == "faster_fifo" else 1)
            rate = max(fn(n) for _ in range(2))
            res[f"peer_{name}_rec_per_s"] = rate
            best_peer = max(best_peer, rate)
        res["best_peer_rec_per_s"] = best_peer
        res["ring_c_over_best_peer"] = res["ring_c_rec_per_s"] / best_peer if best_peer else None
        res["ring_py_over_best_peer"] = res["ring_py_rec_per_s"] / best_peer if best_peer else None

        # 5. the writer alone, then with four readers (one slow) on the other core:
        #    flat out (readers chasing the head cost the writer cache-line
        #    transfers, reported as they are) and paced at 10 M rec/s, twenty
        #    times this machine's packet ceiling, where the cost must not show.
        step("writer alone and with 4 readers")
        n = opts.records // 2
        alone, with4 = [], []
        for _ in range(2):
            path = rings.new(256 << 20, 1 << 22)
            p, c = run_child(_writer, path, n, 0, cpu=a)
            alone.append(n / (collect(p, c) / hz))
            readers = [run_child(_slow_reader, path, 3.0, i == 3, cpu=b) for i in range(4)]
            time.sleep(0.3)
            p, c = run_child(_writer, path, n, 0, cpu=a)
            with4.append(n / (collect(p, c) / hz))
            for rp, rc in readers:
                collect(rp, rc)
            rings.drop(path)
        res["writer_rec_per_s_alone"] = float(np.median(alone))
        res["writer_rec_per_s_4readers"] = float(np.median(with4))
        res["writer_4readers_over_alone"] = res["writer_rec_per_s_4readers"] / res["writer_rec_per_s_alone"]
        target = 10e6
        n = int(target * 1.0)
        path = rings.new(256 << 20, 1 << 22)
        p, c = run_child(_writer, path, n // 4, int(hz / target), cpu=a)
        paced_alone = (n // 4) / (collect(p, c) / hz)
        readers = [run_child(_slow_reader, path, 2.0, i == 3, cpu=b) for i in range(4)]
        time.sleep(0.3)
        p, c = run_child(_writer, path, n, int(hz / target), cpu=a)
        paced4 = n / (collect(p, c) / hz)
        res["four_readers_got_lost"] = [collect(rp, rc) for rp, rc in readers]
        rings.drop(path)
        res["writer_paced_target_rec_per_s"] = target
        res["writer_paced_alone_rec_per_s"] = paced_alone
        res["writer_paced_4readers_rec_per_s"] = paced4
        res["writer_paced_4readers_ratio"] = paced4 / target
    finally:
        rings.close()
    res["goals"] = goals_report(GOALS, res)
    return res
