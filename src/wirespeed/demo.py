"""`wirespeed demo`: the whole path on its embedded default, in one command.

As root: make the test host (unless it is up), run the exchange simulator
inside it (ITCH 5.0 over MoldUDP64, A and B lines), capture on the host side
into a ring with the best transport built so far (kernel: af_xdp is next),
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

import numpy as np

from wirespeed import capture as cap
from wirespeed import sim as simjob
from wirespeed import testbed
from wirespeed.feed import moldudp64 as mold
from wirespeed.ring import RingError, RingReader
from wirespeed.system import caps
from wirespeed.system.hostfs import HostFS

DAY_NS = 86_400_000_000_000


@dataclass(frozen=True)
class DemoOptions:
    duration_s: float = 20.0
    rate: float = 20_000.0
    directory: Path | None = None  # where the pcapng files go (default: a new folder under /tmp)
    symbols: int = 8


class _Latency:
    """A ring reader that decodes every captured MoldUDP64 packet and takes
    rx stamp - ITCH timestamp for each message (both CLOCK_REALTIME, ns since
    midnight), plus the packet and message counts."""

    def __init__(self, ring: str) -> None:
        self.reader = RingReader(ring, "oldest")
        self.samples: list[np.ndarray] = []
        self.packets = self.messages = self.gaps = 0
        self.next_seq: dict[tuple[int, bytes], int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="wirespeed-demo-latency", daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                batch = self.reader.wait(timeout=0.2)
            except RingError:
                return
            lat = []
            for h, frame in batch:
                data = bytes(frame)
                ihl = (data[14] & 0x0F) * 4
                p = mold.decode(data[14 + ihl + 8:])
                if p is None:
                    continue
                self.packets += 1
                key = (int(h["stream"]), p.session)
                if p.messages:
                    expect = self.next_seq.get(key)
                    if expect is not None and p.seq > expect:
                        self.gaps += p.seq - expect
                    self.next_seq[key] = max(expect or 0, p.next_seq)
                rx = int(h["ts_ns"]) % DAY_NS
                for m in p.messages:
                    if len(m) >= 11:
                        itch_ts = int.from_bytes(m[5:11], "big")
                        d = rx - itch_ts
                        if d < -DAY_NS // 2:  # the send was before midnight, the receive after
                            d += DAY_NS
                        lat.append(d)
                self.messages += len(p.messages)
            if lat:
                self.samples.append(np.array(lat, dtype=np.int64))

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> dict[str, Any]:
        self.thread.join(10)
        self.stop.set()
        self.reader.close()
        lat = np.concatenate(self.samples) if self.samples else np.zeros(0, dtype=np.int64)
        out: dict[str, Any] = {"packets": self.packets, "messages": self.messages, "seq_gaps": self.gaps,
                               "samples": int(len(lat))}
        if len(lat):
            p = np.percentile(lat, [50, 90, 99, 99.9, 99.99]) / 1000
            out.update({"lat_us_p50": p[0], "lat_us_p90": p[1], "lat_us_p99": p[2], "lat_us_p999": p[3],
                        "lat_us_p9999": p[4], "lat_us_max": float(lat.max()) / 1000,
                        "lat_us_stddev": float(lat.std()) / 1000})
        return out


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
    notes.append("transport: kernel (the best this build has; af_xdp comes with issue #5)")
    cap_cfg = cap.CaptureConfig(iface=iface, feeds=feeds, ring=ring, ring_size="256M", mode="block")
    stop = threading.Event()
    cap_res: dict[str, Any] = {}
    errors: list[BaseException] = []

    def capture() -> None:
        try:
            cap_res.update(cap.run(cap_cfg, stop=stop))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            stop.set()

    recorder: subprocess.Popen[str] | None = None
    latency: _Latency | None = None
    cap_thread = threading.Thread(target=capture, name="wirespeed-demo-capture", daemon=True)
    try:
        say(f"capturing on {iface} into {ring}")
        cap_thread.start()
        deadline = time.monotonic() + 10
        while not Path(ring).exists() or not _ring_described(ring):
            if errors or time.monotonic() > deadline:
                raise errors[0] if errors else RuntimeError("the capture did not start")
            time.sleep(0.05)
        recorder = subprocess.Popen(
            [sys.executable, "-m", "wirespeed", "record", ring, "--dir", str(out_dir), "--from", "oldest", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        latency = _Latency(ring)
        latency.start()
        say(f"sending {opts.rate:,.0f} msg/s for {opts.duration_s:g} s from the {where}")
        sim_res = simjob.run(sim_cfg, lambda s: say(
            f"sim {s['msgs']:,} messages sent | capture {_published(ring):,} packets in the ring"))
        time.sleep(0.5)  # the last packets' way through the stack
    finally:
        stop.set()
        cap_thread.join(10)
        rec_res: dict[str, Any] = {}
        if recorder is not None:
            try:
                out, err = recorder.communicate(timeout=30)
                rec_res = json.loads(out) if out.strip() else {"error": err.strip()[-300:]}
            except (subprocess.TimeoutExpired, ValueError) as exc:
                recorder.kill()
                rec_res = {"error": str(exc)}
        lat_res = latency.finish() if latency is not None else {}
        Path(ring).unlink(missing_ok=True)
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
            "transports": {"kernel_block": lat_res},
            "recorded": rec_res, "pcapng_dir": str(out_dir)}


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
