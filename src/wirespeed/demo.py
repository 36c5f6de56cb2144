"""`wirespeed demo`: the whole path on its embedded default, in one command.

As root: make the test host (unless it is up), run the exchange simulator
inside it (ITCH 5.0 over MoldUDP64, A and B lines), capture on the host side
into a ring with the best transport this machine has (af_xdp, else kernel),
record to pcapng from a separate process, measure one-way latency from the
messages themselves (rx stamp - ITCH timestamp, same clock), then print a
summary and remove what was made (the pcapng files stay).

Without root there is no test host: the simulator sends unicast to
127.0.0.1 and the kernel transport receives it there; the demo says so.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wirespeed import capture as cap
from wirespeed import sim as simjob
from wirespeed import testbed
from wirespeed.feed.latency import LatencyMeter
from wirespeed.ring import RingReader
from wirespeed.system import caps
from wirespeed.system.hostfs import HostFS



@dataclass(frozen=True)
class DemoOptions:
    duration_s: float = 20.0
    rate: float = 20_000.0
    directory: Path | None = None  # where the pcapng files go (default: a new folder under /tmp)
    symbols: int = 8


def _privileged() -> bool:
    return {"CAP_NET_ADMIN", "CAP_SYS_ADMIN"} <= caps.effective(HostFS())


def run(opts: DemoOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    def say(msg: str) -> None:
        if progress:
            progress(msg)

    out_dir = opts.directory or Path(tempfile.mkdtemp(prefix="wirespeed-demo-"))
    ring = f"/dev/shm/wirespeed-demo-{os.getpid()}"
    tb = testbed.TestbedConfig()
    made = False
    notes: list[str] = []
    if _privileged():
        if not testbed.status(tb).complete:
            say("making the test host (network namespace ws-exchange + veth)")
            testbed.up(tb)
            made = True
        iface, lines_a = tb.host_if, ("239.1.1.1", "239.1.2.1")
        feeds = [cap.FeedSpec("itch", lines_a[0], 30001, "A"), cap.FeedSpec("itch", lines_a[1], 30001, "B")]
        sim_cfg = simjob.SimConfig(lines=[simjob.Line(lines_a[0], 30001), simjob.Line(lines_a[1], 30001)],
                                   rate=opts.rate, duration_s=opts.duration_s, symbols=opts.symbols,
                                   netns=tb.netns, iface=tb.peer_if, source=tb.peer_addr)
        where = f"test host {tb.netns} -> {tb.host_if}, multicast A/B lines"
    else:
        notes.append("not root: no test host; the simulator sends unicast over loopback "
                     "(run as root for the test host and multicast)")
        iface = "lo"
        feeds = [cap.FeedSpec("itch", "127.0.0.1", 30001, "A")]
        sim_cfg = simjob.SimConfig(lines=[simjob.Line("127.0.0.1", 30001)], rate=opts.rate,
                                   duration_s=opts.duration_s, symbols=opts.symbols, iface="lo", source="127.0.0.1")
        where = "loopback, unicast"
    # The receive thread gets a core of its own (it may spin); the sender,
    # the recorder and the latency reader share the others.
    cpus = sorted(os.sched_getaffinity(0))
    rx_cpu = cpus[-1] if len(cpus) > 1 else None
    home = set(cpus)
    if rx_cpu is not None:
        os.sched_setaffinity(0, home - {rx_cpu})
    stop = threading.Event()
    cap_res: dict[str, Any] = {}
    errors: list[BaseException] = []
    recorder: subprocess.Popen[str] | None = None
    latency: LatencyMeter | None = None
    cap_thread: threading.Thread | None = None
    transport = ""
    try:
        for transport in (("af_xdp", "kernel") if iface != "lo" else ("kernel",)):
            cap_cfg = cap.CaptureConfig(iface=iface, feeds=feeds, ring=ring, ring_size="256M", transport=transport,
                                        cpu=rx_cpu)
            say(f"capturing on {iface} into {ring} ({transport})")
            cap_thread, started = _start_capture(cap_cfg, stop, cap_res, errors)
            if started:
                break
            cap_thread.join(10)
            if transport == "kernel" or not errors:
                raise errors[0] if errors else RuntimeError("the capture did not start")
            notes.append(f"af_xdp unavailable here ({errors[0]}): fell back to the kernel transport")
            errors.clear()
            Path(ring).unlink(missing_ok=True)
        notes.append(f"transport: {transport}" + (" (XDP redirects the feeds to AF_XDP sockets; busy-polled, "
                                                  "stamped at dequeue)" if transport == "af_xdp" else
                                                  " (UDP sockets, recvmmsg, kernel receive stamps)"))
        recorder = subprocess.Popen(
            [sys.executable, "-m", "wirespeed", "record", ring, "--dir", str(out_dir), "--from", "oldest", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Attached now (from the oldest record), read after the run: decoding
        # every message in Python while the feed runs would take CPU from the
        # sender on a small machine and show up as latency.
        latency = LatencyMeter(ring)
        say(f"sending {opts.rate:,.0f} msg/s for {opts.duration_s:g} s from the {where}")
        sim_res = simjob.run(sim_cfg, lambda s: say(
            f"sim {s['msgs']:,} messages sent | capture {_published(ring):,} packets in the ring"))
        time.sleep(0.5)  # the last packets' way through the stack
    finally:
        stop.set()
        if cap_thread is not None:
            cap_thread.join(10)
        rec_res: dict[str, Any] = {}
        if recorder is not None:
            try:
                out, err = recorder.communicate(timeout=30)
                rec_res = json.loads(out) if out.strip() else {"error": err.strip()[-300:]}
            except (subprocess.TimeoutExpired, ValueError) as exc:
                recorder.kill()
                rec_res = {"error": str(exc)}
        if latency is not None:
            latency.drain()
        lat_res = latency.finish() if latency is not None else {}
        Path(ring).unlink(missing_ok=True)
        os.sched_setaffinity(0, home)
        if made:
            say("removing the test host")
            testbed.down(tb)
    if errors:
        raise errors[0]
    drops = cap_res.get("drops", {})
    return {"where": where, "notes": notes, "duration_s": opts.duration_s, "rate": opts.rate,
            "sent": {"messages": sim_res["msgs"], "packets": sim_res["packets"], "datagrams": sim_res["sent_pkts"]},
            "captured": {"packets": cap_res.get("records", 0), "drops": drops,
                         "sock_overflow": drops.get("sock_overflow", 0)},
            "transport": transport, "setup": cap_res.get("setup", {}),
            "transports": {f"{transport}_{cap_res.get('mode', '')}": lat_res},
            "recorded": rec_res, "pcapng_dir": str(out_dir)}


def _start_capture(cfg: cap.CaptureConfig, stop: threading.Event, res: dict[str, Any],
                   errors: list[BaseException]) -> tuple[threading.Thread, bool]:
    """Run the capture in a thread; True once it describes its streams in
    the ring (it is receiving), False if it failed first."""
    def capture() -> None:
        try:
            res.update(cap.run(cfg, stop=stop))
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    thread = threading.Thread(target=capture, name="wirespeed-demo-capture", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not Path(cfg.ring).exists() or not _ring_described(cfg.ring):
        if errors or not thread.is_alive() or time.monotonic() > deadline:
            return thread, False
        time.sleep(0.05)
    return thread, True


def _ring_described(ring: str) -> bool:
    try:
        with RingReader(ring) as r:
            return bool(r.description().get("streams"))
    except Exception:  # noqa: BLE001 - not ready yet
        return False


def _published(ring: str) -> int:
    try:
        with RingReader(ring) as r:
            return int(r.info()["records_published"])  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - the ring is gone: nothing to report
        return 0
