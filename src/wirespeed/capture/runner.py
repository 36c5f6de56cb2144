"""`wirespeed capture`: feeds from an interface into the ring.

A capture config names the interface, the feeds (name, group, port, A/B line,
optional source, transport), the ring, and the cores. From a TOML file:

    iface = "ws-host0"
    ring = "/dev/shm/wirespeed"
    ring_size = "256M"
    transport = "af_xdp"     # kernel | af_xdp | dpdk | pcap (per feed too; one per capture for now)
    mode = "busy"            # block (sleep when idle) | busy (spin)
    cpu = 1                  # pin the receive thread
    xdp_mode = "auto"        # af_xdp: native | generic | auto
    zerocopy = "auto"        # af_xdp: on | off | auto
    malformed = "skip"       # af_xdp, dpdk, pcap: skip (count) | keep (publish, flagged)
    dpdk_port = "net_af_xdp0,iface=ws-host0"   # dpdk: a PCI address or a vdev (transports/dpdk.py)
    [[feed]]
    name = "itch"
    group = "239.1.1.1"
    port = 30001
    line = "A"

or from flags (`--feed NAME=GROUP:PORT`). The ring describes its streams
(RingWriter.describe), so recorders and readers need nothing else.
"""
from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from wirespeed.errors import UsageError, WirespeedError
from wirespeed.ring import Ring, RingError, RingWriter, parse_size, resolve
from wirespeed.transports import Stream, Transport
from wirespeed.transports.af_xdp import AfXdpOptions, AfXdpTransport
from wirespeed.transports.dpdk import DpdkOptions, DpdkTransport, parse_device
from wirespeed.transports.kernel import KernelTransport
from wirespeed.transports.pcap import PcapTransport

TRANSPORTS = ("kernel", "af_xdp", "dpdk", "pcap")
# The cores this process may use, as started: callers (the demo, benchmarks)
# narrow their own threads' affinity to keep the receive core free.
_CPUS = frozenset(os.sched_getaffinity(0))


@dataclass(frozen=True)
class FeedSpec:
    name: str
    group: str
    port: int
    line: str = "A"
    transport: str | None = None  # None: the capture's transport
    source: str | None = None


@dataclass
class CaptureConfig:
    iface: str
    feeds: list[FeedSpec]
    ring: str = "/dev/shm/wirespeed"
    ring_size: str = "256M"
    mode: str | None = None  # None: block for kernel, busy for af_xdp
    stamp: str = "auto"  # kernel transport: auto, kernel, hardware or user (kernel.py says which is which)
    rcvbuf: str = "32M"  # kernel transport: each socket's receive queue (overflow past it is counted)
    cpu: int | None = None
    transport: str = "kernel"
    xdp: AfXdpOptions = field(default_factory=AfXdpOptions)
    dpdk: DpdkOptions = field(default_factory=DpdkOptions)
    pcap: str | None = None  # transport pcap: the file to replay
    pace: str = "max"        # transport pcap: max | recorded
    speed: float = 1.0       # transport pcap, pace recorded: 10 = ten times faster

    @classmethod
    def from_toml(cls, path: str | Path) -> CaptureConfig:
        import tomllib

        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except FileNotFoundError:
            raise UsageError(f"no capture config at {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from None
        return cls.from_dict(doc, str(path))

    @classmethod
    def from_dict(cls, doc: dict[str, Any], path: str) -> CaptureConfig:
        """A config's table (a TOML file's top level, or `wirespeed trade`'s [capture]);
        `path` names it in errors."""
        xdp_keys = {"xdp_mode": "xdp_mode", "zerocopy": "zerocopy", "xsk_frames": "frames",
                    "xsk_frame_size": "frame_size", "queues": "queues", "malformed": "malformed"}
        dpdk_keys = {"dpdk_port": "port", "dpdk_rxd": "rxd", "dpdk_burst": "burst", "dpdk_queues": "queues",
                     "dpdk_hugepages": "hugepages", "dpdk_igmp": "igmp", "dpdk_igmp_source": "igmp_source",
                     "dpdk_timestamps": "timestamps"}
        known = {"iface", "ring", "ring_size", "mode", "stamp", "rcvbuf", "cpu", "feed", "transport", "pcap", "pace", "speed",
                 *xdp_keys, *dpdk_keys}
        unknown = set(doc) - known
        if unknown:
            raise UsageError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}",
                             f"known: {', '.join(sorted(known))}")
        feeds = []
        for i, fd in enumerate(doc.get("feed", [])):
            if not isinstance(fd, dict):
                raise UsageError(f"{path}: [[feed]] {i + 1} is not a table")
            try:
                feeds.append(FeedSpec(**fd))
            except TypeError as exc:
                raise UsageError(f"{path}: [[feed]] {i + 1}: {exc}",
                                 "a feed has name, group, port and optionally line, transport, source") from None
        if "iface" not in doc and "pcap" not in doc and "dpdk_port" not in doc:
            raise UsageError(f"{path}: iface is missing", 'add: iface = "ws-host0" (or pcap = "file.pcapng" to replay)')
        xdp = AfXdpOptions(**{attr: doc[key] for key, attr in xdp_keys.items() if key in doc})
        dpdk = DpdkOptions(**{attr: doc[key] for key, attr in dpdk_keys.items() if key in doc})
        return cls(iface=doc.get("iface", ""), feeds=feeds, pcap=doc.get("pcap"), pace=doc.get("pace", "max"),
                   speed=float(doc.get("speed", 1.0)), ring=doc.get("ring", cls.ring),
                   ring_size=str(doc.get("ring_size", cls.ring_size)), mode=doc.get("mode"),
                   stamp=doc.get("stamp", "auto"), rcvbuf=str(doc.get("rcvbuf", cls.rcvbuf)), cpu=doc.get("cpu"), transport=doc.get("transport", "kernel"),
                   xdp=xdp, dpdk=dpdk).validate()

    def validate(self) -> CaptureConfig:
        if not self.feeds:
            raise UsageError("no feeds to capture", "give --feed NAME=GROUP:PORT or [[feed]] tables")
        seen = set()
        for f in self.feeds:
            try:
                ipaddress.IPv4Address(f.group)
            except ValueError:
                raise UsageError(f"feed {f.name}: invalid group {f.group!r}") from None
            if not isinstance(f.port, int) or not 0 < f.port < 65536:
                raise UsageError(f"feed {f.name}: invalid port {f.port!r}")
            if f.transport is not None and f.transport not in TRANSPORTS:
                raise UsageError(f"feed {f.name}: unknown transport {f.transport!r}", f"one of {', '.join(TRANSPORTS)}")
            if f.line not in ("A", "B", "C", "D"):
                raise UsageError(f"feed {f.name}: line must be A, B, C or D")
            if (f.group, f.port) in seen:
                raise UsageError(f"feed {f.name}: {f.group}:{f.port} named twice")
            seen.add((f.group, f.port))
        if self.pcap and self.transport == "kernel":
            self.transport = "pcap"  # naming a file to replay says which transport
        if self.transport not in TRANSPORTS:
            raise UsageError(f"unknown transport {self.transport!r}", f"one of {', '.join(TRANSPORTS)}")
        used = {f.transport or self.transport for f in self.feeds}
        if len(used) > 1:
            raise UsageError(f"feeds name different transports ({', '.join(sorted(used))})",
                             "one transport per capture for now: run one capture per transport, each into its own ring")
        self.transport = used.pop()
        if self.transport == "pcap":
            if not self.pcap:
                raise UsageError("transport pcap needs the file to replay", "give --pcap FILE (pcap = \"...\" in TOML)")
            if not Path(self.pcap).is_file():
                raise UsageError(f"no capture file at {self.pcap}")
            if self.pace not in ("max", "recorded") or not self.speed > 0:
                raise UsageError(f"pace {self.pace!r}, speed {self.speed!r}", "pace max or recorded; speed > 0")
            self.iface = self.iface or f"pcap:{Path(self.pcap).name}"
        elif self.transport == "dpdk":
            self.dpdk.validate()
            dev = parse_device(self.dpdk.port)
            self.iface = self.iface or dev.iface or dev.name  # what the ring's description names
        elif not self.iface:
            raise UsageError("no interface named", "give --iface (the test host's is ws-host0)")
        if self.transport in ("af_xdp", "dpdk") and self.stamp in ("kernel", "auto"):
            self.stamp = "user"  # no kernel stamp: taken at dequeue, flagged TS_USER (dpdk: the NIC's where it has one)
        self.xdp.validate()
        if self.mode is None:
            self.mode = "busy" if self.transport in ("af_xdp", "dpdk") else "block"
        if self.mode not in ("block", "busy"):
            raise UsageError(f"mode {self.mode!r}", "block or busy")
        if self.stamp not in ("auto", "kernel", "hardware", "user"):
            raise UsageError(f"stamp {self.stamp!r}", "auto, kernel, hardware or user")
        if self.stamp == "hardware" and self.transport != "kernel":
            raise UsageError(f"stamp hardware with transport {self.transport}",
                             "SO_TIMESTAMPING is the kernel transport's; dpdk takes the NIC's stamps itself")
        if self.cpu is not None and self.cpu not in _CPUS:
            raise UsageError(f"cpu {self.cpu} is not available to this process", f"choose from {sorted(_CPUS)}")
        parse_size(self.ring_size)
        if not 4 << 10 <= parse_size(self.rcvbuf) <= 2 << 30:
            raise UsageError(f"rcvbuf {self.rcvbuf}", "between 4K and 2G (the default, 32M, holds ~30 ms of a busy feed)")
        return self

    def streams(self) -> list[Stream]:
        return [Stream(i + 1, f.name, f.group, f.port, f.line, f.source) for i, f in enumerate(self.feeds)]


def parse_feed_flag(text: str) -> FeedSpec:
    """NAME=GROUP:PORT[/LINE], e.g. itch=239.1.1.1:30001 or itch-b=239.1.2.1:30001/B"""
    name, eq, rest = text.partition("=")
    addr, _, line = rest.partition("/")
    group, colon, port = addr.partition(":")
    if not (eq and colon and name and port.isdigit()):
        raise UsageError(f"invalid feed {text!r}", "write NAME=GROUP:PORT, e.g. itch=239.1.1.1:30001 (/B for a B line)")
    return FeedSpec(name, group, int(port), line or "A")


def open_ring(cfg: CaptureConfig) -> RingWriter:
    """Join the ring, creating it if it does not exist yet."""
    path = resolve(cfg.ring)
    if not path.exists():
        Ring.create(path, size=cfg.ring_size)
    try:
        return RingWriter(path)
    except RingError:
        raise
    except WirespeedError as exc:
        raise WirespeedError(f"cannot write the ring {path}: {exc.message}", exc.hint) from None


def run(cfg: CaptureConfig, duration_s: float = 0.0, progress: Callable[[dict[str, Any]], None] | None = None,
        stop: threading.Event | None = None, ready: threading.Event | None = None,
        opened: Callable[[Transport], None] | None = None) -> dict[str, Any]:
    """Capture until `duration_s` passes, `stop` is set, or SIGINT/SIGTERM.
    The ring is left closed (readers see a clean end) with every counter.
    `opened(transport)` is called once the transport is open, before it
    receives (an order session's TCP shares an af_xdp capture's queue)."""
    cfg.validate()
    stop = stop or threading.Event()
    streams = cfg.streams()
    made_ring = not resolve(cfg.ring).exists()
    writer = open_ring(cfg)
    transport = make_transport(cfg, streams)
    thread: threading.Thread | None = None
    try:
        try:
            transport.open()
        except BaseException:
            if made_ring:  # nothing was captured: leave no ring behind either
                writer.close()
                resolve(cfg.ring).unlink(missing_ok=True)
            raise
        if opened is not None:
            opened(transport)
        writer.describe({"capture": {"iface": cfg.iface, "pid": os.getpid()} | transport.describe(),
                         "streams": [asdict(s) | {"transport": transport.name} for s in streams]})
        errors: list[BaseException] = []

        def rx() -> None:
            try:
                if cfg.cpu is not None:
                    os.sched_setaffinity(0, {cfg.cpu})  # this thread only
                transport.run(writer._w)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        thread = threading.Thread(target=rx, name=f"wirespeed-rx-{transport.name}", daemon=True)
        old = _install_stop_signals(stop)
        t0 = time.monotonic()
        thread.start()
        if ready is not None:
            ready.set()  # the transport is open and its thread receiving
        try:
            while thread.is_alive() and not stop.is_set():
                if duration_s and time.monotonic() - t0 >= duration_s:
                    break
                stop.wait(0.25)
                transport.account(writer)
                if progress:
                    progress(_stats(transport, writer, cfg, time.monotonic() - t0))
        finally:
            transport.stop()
            thread.join(5)
            transport.account(writer)  # the kernel's last drop counts, before the ring closes
            _restore_signals(old)
        if thread.is_alive():
            raise WirespeedError(f"the receive thread did not stop within 5 s; {cfg.ring} and the transport stay "
                                 "open while it runs",
                                 "a loop that ignores stop() is a bug: run with PYTHONFAULTHANDLER=1 and send "
                                 "SIGABRT to see where it is")
        if errors:
            raise WirespeedError(f"the receive thread failed: {errors[0]}")
        return _stats(transport, writer, cfg, time.monotonic() - t0)
    finally:
        if thread is None or not thread.is_alive():  # never unmap the ring under a running loop
            transport.close()
            writer.close()


class Background:
    """A capture in a thread of this process, for jobs that drive the
    traffic themselves (the demo, benchmarks):

        with Background(cfg) as c:   # returns once the capture receives; raises if it cannot
            send()
        c.result                     # what run() returned

    Leaving the block stops the capture and waits for it."""

    def __init__(self, cfg: CaptureConfig) -> None:
        self.cfg = cfg
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.transport: Transport | None = None  # once open
        self.result: dict[str, Any] = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="wirespeed-capture", daemon=True)

    def _run(self) -> None:
        try:
            self.result.update(run(self.cfg, stop=self.stop, ready=self.ready, opened=self._opened))
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            self.error = exc

    def _opened(self, transport: Transport) -> None:
        self.transport = transport

    def start(self) -> Background:
        """Returns once the capture receives; raises what stopped it if it could not start."""
        self.thread.start()
        while not self.ready.wait(0.05):
            if not self.thread.is_alive():
                self.thread.join()
                raise self.error or WirespeedError("the capture ended before it started")
        return self

    def finish(self) -> dict[str, Any]:
        """Stop it and wait; an error it met stays in .error."""
        self.stop.set()
        self.thread.join(15)
        return self.result

    def __enter__(self) -> Background:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.finish()
        if self.error is not None and exc[0] is None:
            raise self.error


@contextmanager
def receive_core() -> Iterator[int | None]:
    """A core of its own for the receive thread (it may spin): yields the
    last core this process may use, after narrowing the calling thread, and
    so every thread it starts from here on (senders, recorders), to the
    others; restores the calling thread's cores at the end. None on a
    one-core machine."""
    home = set(os.sched_getaffinity(0))
    cpus = sorted(_CPUS & home) or sorted(home)
    rx = cpus[-1] if len(cpus) > 1 else None
    if rx is not None:
        os.sched_setaffinity(0, set(cpus) - {rx})
    try:
        yield rx
    finally:
        os.sched_setaffinity(0, home)


def make_transport(cfg: CaptureConfig, streams: list[Stream]) -> Transport:
    if cfg.transport == "pcap":
        assert cfg.pcap is not None
        return PcapTransport(cfg.pcap, streams, cfg.pace, cfg.speed, cfg.xdp.malformed)
    if cfg.transport == "af_xdp":
        return AfXdpTransport(cfg.iface, streams, cfg.mode, cfg.xdp)
    if cfg.transport == "dpdk":
        return DpdkTransport(streams, cfg.mode or "busy", cfg.dpdk, cfg.cpu, cfg.xdp.malformed)
    return KernelTransport(cfg.iface, streams, cfg.mode, cfg.stamp, parse_size(cfg.rcvbuf))


def _stats(transport: Transport, writer: RingWriter, cfg: CaptureConfig, elapsed: float) -> dict[str, Any]:
    from wirespeed.ring import RingReader

    rx = transport.stats()
    with RingReader(writer.path) as r:
        info = r.info()
    return {"elapsed_s": elapsed, "ring": str(writer.path), "iface": cfg.iface, "transport": transport.name,
            "mode": cfg.mode, "setup": transport.describe(), "rx": rx, "records": info["records_published"],
            "drops": info["drops"], "next_seq": writer.next_seq}


def _install_stop_signals(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(sig, lambda *_: stop.set())
    return old


def _restore_signals(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)
