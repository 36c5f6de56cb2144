"""The dpdk transport: a DPDK port's receive queues into the ring.

The port (`--dpdk-port DEV`) is a NIC bound to a DPDK driver, named by its
PCI address (0000:3b:00.0), or a virtual device on a kernel interface or a
file:

    net_af_xdp0,iface=ws-host0      DPDK's AF_XDP driver (the test host's veth)
    net_af_packet0,iface=ws-host0   a packet socket
    net_pcap0,rx_pcap=day.pcap      a pcap file (classic pcap, not pcapng)

DPDK takes the whole port (every queue it is given, and everything on it):
there is no program choosing feeds in the kernel as af_xdp's does, so the
engine (native/transports/dpdk.c) keeps the capture's feeds and counts the
rest as `filtered`, by reason. On net_af_xdp that includes ARP and TCP: the
kernel no longer sees the interface's traffic while the capture runs.

What open() does, in this order:

1. DPDK's EAL, once per process (DPDK cannot start twice). Its main lcore
   is the capture's core (`cpu`, else the last core this process may use);
   `--file-prefix ws<pid>-<n>`; hugepages through `--in-memory` (memfd: no
   hugepage file exists at any time, so none is left behind even by kill
   -9) where enough free 2 MB pages and a hugetlbfs mount exist, else
   `--no-huge --no-shconf` with a warning: anonymous 4 KiB pages (more TLB
   misses per packet, and no IOVA a physical NIC can DMA to without an
   IOMMU). The EAL pins the calling thread: its CPU affinity is restored.
2. The port: probed (hot-plugged; removed again at close), one mempool
   sized from the queues, descriptors and burst (dpdk.h), every receive
   queue with RSS where there are several, started.
3. IGMP: a port with a kernel interface behind it is joined by a kernel
   socket, as af_xdp's is; a NIC DPDK owns alone sends IGMPv3 reports
   itself, from `igmp_source`, and answers queries (`igmp = "dpdk"`).
4. For net_af_xdp, a guard process: DPDK attaches its XDP program through
   netlink, which outlives the process, so if this process dies without
   closing the port (kill -9), the guard takes the program off the
   interface and the kernel gets its traffic back.

The driver's drop counters (rte_eth_stats: imissed, rx_nombuf, ierrors)
are carried into the ring by account(), on the control thread.
"""
from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wirespeed.errors import PrivilegeError, UsageError, WirespeedError
from wirespeed.transports import Stream
from wirespeed.transports.kernel import iface_addr, join_groups

PCI_RE = re.compile(r"^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
VDEV_RE = re.compile(r"^(net_[a-z_]+?)(\d+)((?:,[A-Za-z_]+=[^,]*)*)$")
HUGEPAGE_MB = 2
_EAL_LOCK = threading.Lock()
_eal: dict[str, Any] = {}  # how this process's EAL was started (once)
_opened = 0  # ports opened in this process: the file prefix's suffix


@dataclass
class DpdkOptions:
    """Knobs of the dpdk transport (capture config keys in brackets)."""

    port: str = ""            # [dpdk_port] a PCI address or a vdev string
    rxd: int = 4096           # [dpdk_rxd] receive descriptors per queue (net_af_xdp: its RX ring; 1024 lost at 550 k pkt/s here)
    burst: int = 32           # [dpdk_burst] packets per rte_eth_rx_burst
    queues: int = 0           # [dpdk_queues] 0: every receive queue of the port
    hugepages: str = "auto"   # [dpdk_hugepages] auto (if enough are free) | on | off
    igmp: str = "auto"        # [dpdk_igmp] auto | kernel | dpdk | off
    igmp_source: str = ""     # [dpdk_igmp_source] the address IGMP reports come from (igmp dpdk)
    timestamps: str = "auto"  # [dpdk_timestamps] auto (the NIC's where it has them) | off

    def validate(self) -> DpdkOptions:
        if not self.port:
            raise UsageError("transport dpdk needs the port", "give --dpdk-port DEV: a PCI address, or a vdev such as "
                             "net_af_xdp0,iface=ws-host0")
        parse_device(self.port)
        if not 64 <= self.rxd <= 32768:
            raise UsageError(f"dpdk_rxd {self.rxd}", "64 .. 32768 receive descriptors (default 1024)")
        if not 1 <= self.burst <= 256:
            raise UsageError(f"dpdk_burst {self.burst}", "1 .. 256 (default 32)")
        if not 0 <= self.queues <= 16:
            raise UsageError(f"dpdk_queues {self.queues}", "0 (every queue) .. 16")
        if self.hugepages not in ("auto", "on", "off"):
            raise UsageError(f"dpdk_hugepages {self.hugepages!r}", "auto, on or off")
        if self.igmp not in ("auto", "kernel", "dpdk", "off"):
            raise UsageError(f"dpdk_igmp {self.igmp!r}", "auto, kernel, dpdk or off")
        if self.timestamps not in ("auto", "off"):
            raise UsageError(f"dpdk_timestamps {self.timestamps!r}", "auto or off")
        if self.igmp_source:
            try:
                ipaddress.IPv4Address(self.igmp_source)
            except ValueError:
                raise UsageError(f"dpdk_igmp_source {self.igmp_source!r} is not an IPv4 address") from None
        return self


@dataclass(frozen=True)
class Device:
    """A parsed --dpdk-port: `name` is DPDK's (net_af_xdp0, 0000:3b:00.0)."""

    text: str
    name: str
    driver: str  # net_af_xdp, net_pcap, ... or "pci"
    args: dict[str, str]

    @property
    def iface(self) -> str | None:
        """The kernel interface behind a vdev, if it has one."""
        return self.args.get("iface")

    def devargs(self) -> str:
        """What DPDK is given: for net_af_xdp, without preferred busy polling
        unless asked (with it, every receive burst is a recvfrom())."""
        if self.driver == "net_af_xdp" and "busy_budget" not in self.args:
            return self.text + ",busy_budget=0"
        return self.text


def parse_device(text: str) -> Device:
    """A PCI address or `net_<driver><n>[,key=value...]`; UsageError otherwise."""
    text = text.strip()
    if PCI_RE.match(text):
        full = text if text.count(":") == 2 else f"0000:{text}"
        return Device(full, full.lower(), "pci", {})
    m = VDEV_RE.match(text)
    if not m:
        raise UsageError(f"dpdk port {text!r} is neither a PCI address nor a vdev",
                         "e.g. 0000:3b:00.0, net_af_xdp0,iface=ws-host0, net_af_packet0,iface=eth1, "
                         "net_pcap0,rx_pcap=day.pcap")
    args = dict(kv.split("=", 1) for kv in m.group(3).split(",")[1:])
    dev = Device(text, m.group(1) + m.group(2), m.group(1), args)
    if dev.driver in ("net_af_xdp", "net_af_packet") and not dev.iface:
        raise UsageError(f"dpdk port {text!r}: {dev.driver} needs iface=", f"e.g. {dev.name},iface=ws-host0")
    if dev.driver == "net_pcap" and "rx_pcap" in args and not Path(args["rx_pcap"]).is_file():
        raise UsageError(f"dpdk port {text!r}: no file at {args['rx_pcap']}")
    return dev


def available() -> tuple[bool, str]:
    """(True, DPDK's version) where the dpdk transport was built, else (False, why)."""
    try:
        from wirespeed import _dpdk
    except ImportError as exc:
        if "No module named" in str(exc):
            return False, ("wirespeed was built without DPDK (pkg-config found no libdpdk >= 22.11); "
                           "install dpdk-dev, then rebuild: ./setup.sh")
        return False, f"wirespeed._dpdk does not load: {exc}"
    return True, _dpdk.version()


def _native() -> Any:
    ok, why = available()
    if not ok:
        raise WirespeedError(f"transport dpdk is unavailable: {why}", "wirespeed doctor says what this machine has")
    from wirespeed import _dpdk

    return _dpdk


def hugepages_free_mb() -> int:
    """Free 2 MB hugepages, in MB, if a hugetlbfs is mounted (EAL needs one), else 0."""
    try:
        mounts = Path("/proc/mounts").read_text()
    except OSError:
        return 0
    if not any(ln.split()[2:3] == ["hugetlbfs"] for ln in mounts.splitlines() if ln.strip()):
        return 0
    try:
        return int(Path("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages").read_text()) * HUGEPAGE_MB
    except (OSError, ValueError):
        return 0


def runtime_dir(prefix: str) -> Path:
    """Where EAL keeps a prefix's runtime files (rte_eal_get_runtime_dir)."""
    base = Path("/var/run") if os.geteuid() == 0 else Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    return base / "dpdk" / prefix


def eal_args(cpu: int, prefix: str, dev: Device, memory_mb: int, huge: bool) -> list[str]:
    """EAL's arguments for this process (see the module's docstring)."""
    args = ["wirespeed", "-l", str(cpu), "--file-prefix", prefix, "--no-telemetry", "--log-level", "notice"]
    args += ["--in-memory"] if huge else ["--no-huge", "-m", str(memory_mb), "--no-shconf"]
    args += ["-a", dev.name] if dev.driver == "pci" else ["--no-pci"]
    return args


@contextmanager
def _stderr_to(buf: list[str]) -> Iterator[None]:
    """fd 2 into buf while DPDK's drivers talk (libbpf and libxdp print there
    directly, not through DPDK's log): their words go into our errors."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            buf.append(tmp.read().decode(errors="replace"))


_NO_HUGE = ("DPDK runs without hugepages (--no-huge): its memory is 4 KiB pages, so more TLB misses per packet, "
            "and a physical NIC needs an IOMMU to DMA into it; reserve {mb} MB of 2 MB hugepages and mount "
            "hugetlbfs to avoid this")


def start_eal(cpu: int, dev: Device, pool_mbufs: int, hugepages: str) -> list[str]:
    """Start this process's EAL if it is not yet; returns warnings."""
    global _opened
    lib = _native()
    warnings: list[str] = []
    with _EAL_LOCK:
        _opened += 1
        if _eal:  # started by an earlier capture of this process: its memory mode stands
            if dev.driver == "pci" and dev.name not in _eal["args"]:
                warnings.append(f"DPDK started earlier in this process without {dev.name} allowed: it is probed now")
            if not _eal["huge"]:
                warnings.append(_NO_HUGE.format(mb=_eal["need_mb"]))
            return warnings
        need_mb = 128 + pool_mbufs * 3 // 1024  # mbufs (~2.3 KB each) and the drivers' rings
        free = hugepages_free_mb()
        huge = hugepages == "on" or (hugepages == "auto" and free >= need_mb)
        if hugepages == "on" and free < need_mb:
            raise WirespeedError(f"dpdk: {free} MB of free 2 MB hugepages (with a hugetlbfs mounted); "
                                 f"about {need_mb} MB needed",
                                 f"reserve them: echo {need_mb // HUGEPAGE_MB + 16} > "
                                 "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages, or dpdk_hugepages = \"auto\"")
        if not huge:
            warnings.append(_NO_HUGE.format(mb=need_mb))
        prefix = f"ws{os.getpid()}-{_opened}"
        args = eal_args(cpu, prefix, dev, max(256, need_mb * 2), huge)
        home = os.sched_getaffinity(0)
        said: list[str] = []
        try:
            with _stderr_to(said):
                lib.eal_init(args)
        except OSError as exc:
            raise _eal_error(exc, "".join(said)) from None
        finally:
            os.sched_setaffinity(0, home)  # the EAL pinned this thread to the lcore
            _cleanup_runtime_dir(prefix)
        _eal.update(args=args, prefix=prefix, huge=huge, cpu=cpu, need_mb=need_mb)
    return warnings


def _cleanup_runtime_dir(prefix: str) -> None:
    """--in-memory and --no-shconf leave an empty runtime directory: remove
    it now, so nothing of this process stays in /var/run/dpdk."""
    d = runtime_dir(prefix)
    try:
        d.rmdir()
    except OSError:
        pass


def _eal_error(exc: OSError, said: str) -> WirespeedError:
    detail = (exc.strerror or str(exc)) + (f"; {said.strip().splitlines()[-1]}" if said.strip() else "")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PrivilegeError(f"dpdk: DPDK's EAL cannot start: {detail}",
                              "DPDK needs root (or CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_NET_RAW, CAP_IPC_LOCK)")
    if exc.errno == errno.ENOMEM:
        return WirespeedError(f"dpdk: DPDK's EAL found no memory: {detail}",
                              "free or reserve hugepages (wirespeed doctor shows them), or dpdk_hugepages = \"off\"")
    return WirespeedError(f"dpdk: DPDK's EAL cannot start: {detail}")


def _fds() -> dict[int, str]:
    """This process's file descriptors and what they are (/proc/self/fd)."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # closed while we looked
    return out


def _reap_leaks(opened: dict[int, str]) -> None:
    """Close what DPDK 22.11's net_af_xdp (with libxdp) leaves open after
    rte_eth_dev_close: the AF_XDP socket that shares its fd with the UMEM
    (libxdp closes it only with the UMEM, which the driver never deletes),
    and libxdp's program and map fds. Left open, the socket keeps the queue
    bound, and neither DPDK nor af_xdp can take it again in this process.
    Only descriptors the port's open created, and still the same objects,
    are closed."""
    now = _fds()
    for fd, what in opened.items():
        if now.get(fd) != what:
            continue
        if what.startswith("anon_inode:bpf") or what.startswith("anon_inode:btf"):
            os.close(fd)
        elif what.startswith("socket:") and _socket_domain(fd) == 44:  # AF_XDP
            os.close(fd)


def _socket_domain(fd: int) -> int | None:
    """SO_DOMAIN of a socket fd (Python's socket() cannot wrap an AF_XDP fd:
    it asks getsockname(), which AF_XDP does not have)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    val, size = ctypes.c_int(0), ctypes.c_uint32(4)
    if libc.getsockopt(fd, socket.SOL_SOCKET, socket.SO_DOMAIN, ctypes.byref(val), ctypes.byref(size)) != 0:
        return None
    return val.value


class _XdpGuard:
    """A child process that takes DPDK's XDP program off the interface if
    this process dies holding it (module docstring, step 4). It waits for
    EOF on a pipe only this process holds; at EOF, it detaches the program
    if it is still the one recorded (a clean close already removed it)."""

    def __init__(self, iface: str) -> None:
        self.iface = iface
        self.proc: subprocess.Popen[bytes] | None = None
        prog = xdp_prog_id(iface)
        if prog is None:
            return
        self.proc = subprocess.Popen([sys.executable, "-m", "wirespeed.transports.xdp_guard", iface, str(prog)],
                                     stdin=subprocess.PIPE, start_new_session=True)

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # EOF: the guard checks, and leaves
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


def xdp_prog_id(iface: str) -> int | None:
    """The id of the XDP program attached to iface (netlink or link), or None."""
    r = subprocess.run(["ip", "-d", "link", "show", "dev", iface], capture_output=True, text=True)
    m = re.search(r"prog/xdp\w* id (\d+)", r.stdout)
    return int(m.group(1)) if m else None


class DpdkTransport:
    name = "dpdk"

    def __init__(self, streams: list[Stream], mode: str = "busy", options: DpdkOptions | None = None,
                 cpu: int | None = None, malformed: str = "skip") -> None:
        self.streams = list(streams)
        self.mode = mode
        self.opts = (options or DpdkOptions()).validate()
        self.dev = parse_device(self.opts.port)
        self.cpu = cpu
        self.malformed = malformed
        self.rx: Any = None
        self.igmp_sock: socket.socket | None = None
        self.igmp_mode = ""
        self.guard: _XdpGuard | None = None
        self.warnings: list[str] = []
        self._accounted = {"dpdk_imissed": 0, "dpdk_rx_nombuf": 0, "dpdk_ierrors": 0}
        self._opened_fds: dict[int, str] = {}  # what the driver opened (_reap_leaks)
        self._xsk_fds: list[int] = []  # net_af_xdp's AF_XDP sockets: their ring-full drops (account)
        self._accounted["xsk_rx_ring_full"] = 0

    # -- setup ---------------------------------------------------------------
    def open(self) -> None:
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        lib = _native()
        cpu = self.cpu if self.cpu is not None else max(os.sched_getaffinity(0))
        pool = lib.pool_size(self.opts.queues or 1, self.opts.rxd, self.opts.burst)
        self.warnings += start_eal(cpu, self.dev, pool, self.opts.hugepages)
        # An AF_XDP socket closed a moment ago (by a capture before this one
        # in this process) releases its queue asynchronously: net_af_xdp's
        # bind then fails for some milliseconds, so it is tried for a second.
        deadline = time.monotonic() + (1.0 if self.dev.driver == "net_af_xdp" else 0.0)
        while True:
            said: list[str] = []
            before = _fds()
            try:
                with _stderr_to(said):
                    self.rx = lib.DpdkRx(self.dev.devargs(), queues=self.opts.queues, rxd=self.opts.rxd,
                                         burst=self.opts.burst, mode=self.mode, malformed=self.malformed,
                                         timestamps=self.opts.timestamps, allmulti=self.dev.iface is None)
                self._opened_fds = {fd: what for fd, what in _fds().items() if before.get(fd) != what}
                break
            except OSError as exc:
                _reap_leaks({fd: what for fd, what in _fds().items() if before.get(fd) != what})  # a failed setup's
                if time.monotonic() >= deadline or "xdp socket" not in str(exc):
                    raise self._port_error(exc, "".join(said)) from None
                time.sleep(0.05)
        if self.dev.driver == "net_af_xdp":
            self.guard = _XdpGuard(self.dev.iface or "")
            self._xsk_fds = [fd for fd, what in self._opened_fds.items()
                             if what.startswith("socket:") and _socket_domain(fd) == 44]
        for st in self.streams:
            self.rx.add_flow(st.group, st.port, st.id)
        self._igmp_setup()

    def _port_error(self, exc: OSError, said: str) -> WirespeedError:
        last = [ln for ln in said.strip().splitlines() if ln.strip()]
        detail = (exc.strerror or str(exc)) + (f" (driver: {last[-1]})" if last else "")
        hint = None
        if self.dev.iface and not Path("/sys/class/net", self.dev.iface).exists():
            hint = f"there is no interface {self.dev.iface} (ip link shows them; the test host's is ws-host0)"
        elif exc.errno == errno.EBUSY or "busy" in detail.lower():
            hint = "another program holds the interface or its XDP hook: `ip link show` names it"
        elif os.geteuid() != 0:
            return PrivilegeError(f"dpdk: cannot open {self.dev.text}: {detail}",
                                  "DPDK's drivers need root (net_af_xdp and net_af_packet: CAP_NET_ADMIN, "
                                  "CAP_NET_RAW, CAP_BPF; a PCI NIC: access to /dev/vfio)")
        elif self.dev.driver == "pci":
            hint = (f"is {self.dev.name} bound to vfio-pci? dpdk-devbind.py --status shows it; "
                    f"dpdk-devbind.py -b vfio-pci {self.dev.name} binds it")
        return WirespeedError(f"dpdk: cannot open {self.dev.text}: {detail}", hint)

    def _igmp_setup(self) -> None:
        mode = self.opts.igmp
        groups = sorted({st.group for st in self.streams if ipaddress.IPv4Address(st.group).is_multicast})
        if mode == "auto":
            mode = "kernel" if self.dev.iface else ("dpdk" if self.dev.driver == "pci" else "off")
        self.igmp_mode = mode
        if mode == "kernel" and groups:
            if not self.dev.iface:
                raise UsageError(f"dpdk_igmp kernel: {self.dev.text} has no kernel interface",
                                 'use dpdk_igmp = "dpdk" (with dpdk_igmp_source) or "off"')
            self.igmp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            join_groups(self.igmp_sock, self.streams, self.dev.iface, "dpdk")
        elif mode == "dpdk" and groups:
            src = self.opts.igmp_source or (iface_addr(self.dev.iface) if self.dev.iface else "")
            if not src or src == "0.0.0.0":
                raise UsageError("dpdk_igmp dpdk needs the address reports come from",
                                 "set dpdk_igmp_source = \"a.b.c.d\" (the capture host's address on that network)")
            self.rx.igmp_source(src)
            for g in groups:
                self.rx.igmp_join(g)  # the loop sends the report when it starts

    # -- feeds while running -------------------------------------------------
    def add_stream(self, st: Stream) -> None:
        self.rx.add_flow(st.group, st.port, st.id)
        self.streams.append(st)
        if ipaddress.IPv4Address(st.group).is_multicast:
            if self.igmp_sock is not None and self.dev.iface:
                join_groups(self.igmp_sock, [st], self.dev.iface, "dpdk")
            elif self.igmp_mode == "dpdk":
                self.rx.igmp_join(st.group)

    def remove_stream(self, st: Stream) -> None:
        self.rx.remove_flow(st.group, st.port)
        self.streams = [o for o in self.streams if o is not st]
        if self.igmp_mode == "dpdk" and not any(o.group == st.group for o in self.streams):
            self.rx.igmp_leave(st.group)

    # -- run -----------------------------------------------------------------
    def run(self, writer: Any) -> None:
        self.rx.run(writer)

    def stop(self) -> None:
        if self.rx is not None:
            self.rx.stop()

    def describe(self) -> dict[str, Any]:
        info = self.rx.info() if self.rx is not None else {}
        out = {"transport": "dpdk", "device": self.dev.text, "driver": info.get("driver"),
               "queues": info.get("queues"), "rxd": info.get("rxd"), "burst": info.get("burst"),
               "mempool": info.get("pool"), "rss": info.get("rss"),
               "timestamps": "nic" if info.get("nic_timestamps") else "dequeue",
               "hugepages": bool(_eal.get("huge")), "eal_lcore": _eal.get("cpu"), "igmp": self.igmp_mode,
               "busy_poll": self.mode == "busy"}
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    def stats(self) -> dict[str, Any]:
        if self.rx is None:
            return {}
        out: dict[str, Any] = dict(self.rx.stats())
        out.update({f"port_{k}": v for k, v in self.port_stats().items()})
        return out

    def port_stats(self) -> dict[str, int]:
        """The driver's counters; for net_af_xdp also the kernel's count of
        frames its socket's RX ring had no room for, which DPDK 22.11's
        imissed leaves out (imissed is the socket's rx_dropped)."""
        try:
            out = dict(self.rx.port_stats())
        except (OSError, RuntimeError):
            return {}
        if self._xsk_fds:
            from wirespeed import _native as ws_native

            try:
                out["xsk_rx_ring_full"] = ws_native.xsk_statistics(self._xsk_fds)["rx_ring_full"]
            except OSError:
                pass
        return out

    def account(self, writer: Any) -> None:
        """Carry the driver's new drop counts into the ring (control thread)."""
        k = self.port_stats()
        if not k:
            return
        for cause, key in (("dpdk_imissed", "imissed"), ("dpdk_rx_nombuf", "rx_nombuf"),
                           ("dpdk_ierrors", "ierrors"), ("xsk_rx_ring_full", "xsk_rx_ring_full")):
            if key not in k:
                continue
            delta = k[key] - self._accounted[cause]
            if delta > 0:
                writer.count_drop(cause, delta)
                self._accounted[cause] = k[key]

    def close(self) -> None:
        """Stop and free the port (DPDK takes its XDP program off), then the rest."""
        if self.rx is not None:
            self.rx.stop()
            said: list[str] = []
            try:
                with _stderr_to(said):
                    self.rx.close()
            except RuntimeError:
                pass  # still running: the port closes when the object goes
            else:
                _reap_leaks(self._opened_fds)
            self.rx = None
            self._xsk_fds = []
        if self.guard is not None:
            self.guard.close()
            self.guard = None
        if self.igmp_sock is not None:
            self.igmp_sock.close()
            self.igmp_sock = None

