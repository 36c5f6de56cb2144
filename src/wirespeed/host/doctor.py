"""`wirespeed doctor`: what this host can do for kernel bypass, and what to fix.

Every check ends as pass, warn, fail or info, with the exact command or boot
flag that fixes it. `fail` means a transport cannot work as things stand;
`warn` means it works but slower or less precisely than it could.

Facts come from two places, kept apart so tests can replace either:
  * `HostFS`: files under /proc and /sys (a fixture tree in tests);
  * `Probes`: things that are only known by trying them (load a program,
    attach XDP, bind an AF_XDP socket, run pkg-config). `LiveProbes` really
    tries; tests pass scripted answers for hardware this machine lacks.

Attaching XDP to an interface briefly resets the rings of many NIC drivers,
so the real try happens only on interfaces the user names with --iface and on
wirespeed's own test host, never silently on a production NIC.
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Protocol

from wirespeed.errors import UsageError
from wirespeed.system import caps, ethtool
from wirespeed.system.hostfs import HostFS, format_cpulist, parse_cpulist
from wirespeed.system.netdev import XdpFeatures
from wirespeed.host.testbed import TestbedConfig

MIN_KERNEL = (5, 9)  # bpf_link for XDP (5.9); AF_XDP need_wakeup (5.4)
XDP_SINGLE_BUFFER_MTU = 3498  # largest MTU most drivers take native XDP at without multi-buffer
AF_XDP = 44
XDP_COPY, XDP_ZEROCOPY = 1 << 1, 1 << 2


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True)
class Check:
    section: str
    name: str
    status: Status
    value: str
    fix: str | None = None


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    def add(self, section: str, name: str, status: Status, value: str, fix: str | None = None) -> None:
        self.checks.append(Check(section, name, status, value, fix))

    def count(self, status: Status) -> int:
        return sum(c.status is status for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.count(Status.FAIL) == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "checks": [asdict(c) | {"status": c.status.value} for c in self.checks],
            "summary": {s.value: self.count(s) for s in Status},
            "facts": self.facts,
            "ok": self.ok,
        }


# -- probes: what can only be known by trying ---------------------------------

@dataclass(frozen=True)
class EthtoolView:
    """What the driver told SIOCETHTOOL (None where it does not say)."""

    driver: str | None = None
    channels: ethtool.Channels | None = None
    rings: ethtool.Rings | None = None
    coalesce: ethtool.Coalesce | None = None
    gro: bool | None = None
    lro: bool | None = None
    timestamping: ethtool.TimestampInfo | None = None


class Probes(Protocol):
    def af_xdp_socket(self) -> OSError | None: ...
    def bpf_load(self) -> OSError | None: ...
    def io_uring(self) -> OSError | None: ...
    def xdp_features(self) -> dict[int, XdpFeatures] | None: ...
    def ethtool(self, ifname: str) -> EthtoolView: ...
    def xdp_attach(self, ifindex: int, native: bool) -> OSError | None: ...
    def xsk_bind(self, ifindex: int, zerocopy: bool) -> OSError | None: ...
    def which(self, program: str) -> str | None: ...
    def pkg_config_version(self, package: str) -> str | None: ...
    def shared_lib(self, name: str) -> str | None: ...
    def dpdk_transport(self) -> tuple[bool, str]: ...


class LiveProbes:
    """Probes that really try, on this host."""

    def af_xdp_socket(self) -> OSError | None:
        try:
            socket.socket(AF_XDP, socket.SOCK_RAW, 0).close()
        except OSError as exc:
            return exc
        return None

    def bpf_load(self) -> OSError | None:
        from wirespeed.xdp import bpf, programs

        try:
            bpf.load_xdp(programs.xdp_pass()).close()
        except bpf.BpfLoadError as exc:
            return exc.__cause__ if isinstance(exc.__cause__, OSError) else OSError(errno.EINVAL, str(exc))
        return None

    def io_uring(self) -> OSError | None:
        libc = ctypes.CDLL(None, use_errno=True)
        params = ctypes.create_string_buffer(120)  # struct io_uring_params
        nr_io_uring_setup = 425  # the same on every architecture since 5.1
        fd = libc.syscall(nr_io_uring_setup, 1, params)
        if fd < 0:
            err = ctypes.get_errno()
            return OSError(err, f"io_uring_setup(): {os.strerror(err)}")
        os.close(fd)
        return None

    def xdp_features(self) -> dict[int, XdpFeatures] | None:
        from wirespeed.system import netdev

        return netdev.xdp_features()

    def ethtool(self, ifname: str) -> EthtoolView:
        def ask(fn: Callable[[str], object]) -> object:
            try:
                return fn(ifname)
            except OSError:
                return None

        drv = ask(ethtool.driver_info)
        return EthtoolView(
            driver=drv.driver if isinstance(drv, ethtool.DriverInfo) else None,
            channels=ask(ethtool.channels),  # type: ignore[arg-type]
            rings=ask(ethtool.rings),  # type: ignore[arg-type]
            coalesce=ask(ethtool.coalesce),  # type: ignore[arg-type]
            gro=ask(ethtool.gro),  # type: ignore[arg-type]
            lro=ask(ethtool.lro),  # type: ignore[arg-type]
            timestamping=ask(ethtool.timestamping),  # type: ignore[arg-type]
        )

    def xdp_attach(self, ifindex: int, native: bool) -> OSError | None:
        from wirespeed.xdp import bpf, programs

        try:
            with bpf.load_xdp(programs.xdp_pass()) as prog:
                mode = bpf.XdpMode.NATIVE if native else bpf.XdpMode.GENERIC
                bpf.XdpLink.attach(prog, ifindex, mode).close()
        except bpf.BpfLoadError as exc:
            return OSError(errno.EINVAL, str(exc))
        except OSError as exc:
            return exc
        return None

    def xsk_bind(self, ifindex: int, zerocopy: bool) -> OSError | None:
        from wirespeed import _native

        # An XSK's queue is released asynchronously after close, so a bind
        # right after another probe can see EBUSY; a queue held by a running
        # capture stays busy past the deadline and is reported as such.
        deadline = time.monotonic() + 1.0
        while True:
            try:
                _native.xsk_probe(ifindex, 0, XDP_ZEROCOPY if zerocopy else XDP_COPY)
                return None
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    return exc
                time.sleep(0.05)

    def which(self, program: str) -> str | None:
        return shutil.which(program)

    def pkg_config_version(self, package: str) -> str | None:
        if not shutil.which("pkg-config"):
            return None
        out = subprocess.run(["pkg-config", "--modversion", package], capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else None

    def shared_lib(self, name: str) -> str | None:
        import ctypes.util

        return ctypes.util.find_library(name)

    def dpdk_transport(self) -> tuple[bool, str]:
        from wirespeed.transports.dpdk import available

        return available()


# -- the checks ----------------------------------------------------------------

@dataclass(frozen=True)
class DoctorOptions:
    ifaces: tuple[str, ...] = ()  # named by the user: examined and really tried
    try_attach: bool = True  # False: never attach or bind, even where allowed


def run(opts: DoctorOptions, fs: HostFS | None = None, probes: Probes | None = None) -> Report:
    fs = fs or HostFS()
    probes = probes or LiveProbes()
    rep = Report()
    have = caps.effective(fs)
    rep.facts["capabilities"] = sorted(have)
    _kernel(rep, fs, probes)
    _privileges(rep, fs, have)
    ifaces = _pick_ifaces(fs, opts)
    features = probes.xdp_features() if ifaces else None
    rep.facts["interfaces"] = {}
    isolated = _isolated(fs)
    for ifname, explicit in ifaces:
        _interface(rep, fs, probes, ifname, features, may_try=opts.try_attach and explicit, have=have)
        _irqs(rep, fs, ifname, isolated)
    if not ifaces:
        rep.add("interface", "interfaces", Status.INFO, "none found to examine",
                "name one with --iface, or make the test host: wirespeed testbed up")
    _cpu(rep, fs, isolated)
    _memory(rep, fs, have)
    _peers(rep, probes)
    _dpdk(rep, fs, probes)
    return rep


def _kernel_version(release: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _kernel(rep: Report, fs: HostFS, probes: Probes) -> None:
    sec = "kernel"
    release = fs.read("/proc/sys/kernel/osrelease") or "unknown"
    ver = _kernel_version(release)
    rep.facts["kernel"] = release
    if ver >= MIN_KERNEL:
        rep.add(sec, "version", Status.PASS, release)
    else:
        rep.add(sec, "version", Status.FAIL, f"{release} (< {MIN_KERNEL[0]}.{MIN_KERNEL[1]})",
                "XDP through bpf_link needs Linux >= 5.9; upgrade the kernel")

    err = probes.af_xdp_socket()
    rep.facts["af_xdp"] = err is None
    if err is None:
        rep.add(sec, "AF_XDP sockets", Status.PASS, "socket(AF_XDP) works")
    elif err.errno == errno.EAFNOSUPPORT:
        rep.add(sec, "AF_XDP sockets", Status.FAIL, "kernel built without CONFIG_XDP_SOCKETS",
                "use a kernel with CONFIG_XDP_SOCKETS=y, or the kernel transport")
    else:
        rep.add(sec, "AF_XDP sockets", Status.FAIL, f"socket(AF_XDP): {err.strerror}",
                "needs CAP_NET_RAW: run as root")

    err = probes.bpf_load()
    rep.facts["bpf"] = err is None
    if err is None:
        rep.add(sec, "bpf()", Status.PASS, "loaded an XDP program")
    elif err.errno == errno.EPERM:
        rep.add(sec, "bpf()", Status.FAIL, "bpf(BPF_PROG_LOAD): Operation not permitted",
                "needs CAP_BPF and CAP_NET_ADMIN: run as root")
    else:
        rep.add(sec, "bpf()", Status.FAIL, f"bpf(BPF_PROG_LOAD): {err.strerror}",
                "kernel needs CONFIG_BPF_SYSCALL=y and CONFIG_XDP_SOCKETS=y")

    jit = fs.read_int("/proc/sys/net/core/bpf_jit_enable")
    if jit in (1, 2):
        rep.add(sec, "BPF JIT", Status.PASS, "on" if jit == 1 else "on (debug)")
    elif jit == 0:
        rep.add(sec, "BPF JIT", Status.WARN, "off: eBPF runs interpreted",
                "wirespeed tune apply (or: sysctl -w net.core.bpf_jit_enable=1)")
    else:
        rep.add(sec, "BPF JIT", Status.INFO, "unknown (no /proc/sys/net/core/bpf_jit_enable)")

    disabled = fs.read_int("/proc/sys/kernel/io_uring_disabled")
    err = probes.io_uring()
    if err is None and not disabled:
        rep.add(sec, "io_uring", Status.PASS, "enabled")
    elif disabled == 2 or (err is not None and err.errno == errno.EPERM and disabled):
        rep.add(sec, "io_uring", Status.WARN, f"disabled (kernel.io_uring_disabled={disabled})",
                "sysctl -w kernel.io_uring_disabled=0")
    elif err is not None:
        rep.add(sec, "io_uring", Status.WARN, f"io_uring_setup(): {err.strerror}",
                "kernel needs CONFIG_IO_URING=y")
    else:
        rep.add(sec, "io_uring", Status.INFO, f"restricted to kernel.io_uring_group (io_uring_disabled={disabled})")

    filesystems = fs.read("/proc/filesystems") or ""
    if re.search(r"\bhugetlbfs\b", filesystems):
        rep.add(sec, "hugetlbfs", Status.PASS, "supported")
    else:
        rep.add(sec, "hugetlbfs", Status.WARN, "not in /proc/filesystems: rings can only use /dev/shm",
                "kernel needs CONFIG_HUGETLBFS=y")

    bpffs = [m for m, t, _ in fs.mounts() if t == "bpf"]
    if bpffs:
        rep.add(sec, "bpffs", Status.PASS, f"mounted at {bpffs[0]}")
    else:
        rep.add(sec, "bpffs", Status.INFO,
                "not mounted: wirespeed does not need it (its XDP link lives with the process)",
                "to pin objects for other tools: mount -t bpf bpf /sys/fs/bpf")


# What each transport needs; "or" alternatives are tuples.
_TRANSPORT_CAPS: dict[str, list[tuple[str, ...]]] = {
    "kernel": [],
    "af_xdp": [("CAP_NET_RAW",), ("CAP_NET_ADMIN",), ("CAP_BPF", "CAP_SYS_ADMIN"), ("CAP_IPC_LOCK",)],
    "dpdk": [("CAP_NET_RAW",), ("CAP_NET_ADMIN",), ("CAP_BPF", "CAP_SYS_ADMIN"), ("CAP_IPC_LOCK",), ("CAP_SYS_ADMIN",)],
    "testbed": [("CAP_NET_ADMIN",), ("CAP_SYS_ADMIN",)],
    "pinning (SCHED_FIFO)": [("CAP_SYS_NICE",)],
}


def _privileges(rep: Report, fs: HostFS, have: set[str]) -> None:
    for what, needs in _TRANSPORT_CAPS.items():
        missing = [" or ".join(alts) for alts in needs if not any(a in have for a in alts)]
        if not needs:
            rep.add("privileges", what, Status.PASS, "needs no capability")
        elif not missing:
            rep.add("privileges", what, Status.PASS, "has " + ", ".join(alts[0] for alts in needs))
        else:
            status = Status.WARN if what.startswith("pinning") else Status.FAIL
            rep.add("privileges", what, status, "missing " + ", ".join(missing), "run as root (sudo)")


def _default_route_iface(fs: HostFS) -> str | None:
    for line in (fs.read("/proc/net/route") or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) > 2 and parts[1] == "00000000" and parts[7] == "00000000":
            return parts[0]
    return None


def _pick_ifaces(fs: HostFS, opts: DoctorOptions) -> list[tuple[str, bool]]:
    """(name, may really try) for each interface to examine."""
    if opts.ifaces:
        for name in opts.ifaces:
            if not fs.exists(f"/sys/class/net/{name}"):
                raise UsageError(f"no interface named {name!r} in this network namespace",
                                 "list them with: ip -br link")
        return [(name, True) for name in opts.ifaces]
    picked: list[tuple[str, bool]] = []
    tb = TestbedConfig()
    if (fs.read(f"/sys/class/net/{tb.host_if}/ifalias") or "") == tb.alias:
        picked.append((tb.host_if, True))  # wirespeed's own test host: safe to try
    route = _default_route_iface(fs)
    if route and route not in {n for n, _ in picked}:
        picked.append((route, False))
    return picked


def _interface(rep: Report, fs: HostFS, probes: Probes, ifname: str,
               features: dict[int, XdpFeatures] | None, may_try: bool, have: set[str]) -> None:
    sec = f"interface {ifname}"
    base = f"/sys/class/net/{ifname}"
    ifindex = fs.read_int(f"{base}/ifindex") or 0
    view = probes.ethtool(ifname)
    driver = view.driver or fs.readlink_name(f"{base}/device/driver") or "unknown"
    facts: dict[str, object] = {"ifindex": ifindex, "driver": driver}
    rep.facts["interfaces"][ifname] = facts  # type: ignore[index]

    oper = fs.read(f"{base}/operstate") or "unknown"
    rep.add(sec, "driver", Status.INFO, f"{driver}, ifindex {ifindex}, {oper}")

    rx_queues = len([q for q in fs.listdir(f"{base}/queues") if q.startswith("rx-")])
    ch = view.channels
    queues = f"rx queues: {rx_queues}"
    if ch and ch.max_combined:
        queues += f"; channels: combined {ch.combined} of {ch.max_combined}"
    if ch and ch.max_rx:
        queues += f"; channels: rx {ch.rx} of {ch.max_rx}"
    facts["rx_queues"] = rx_queues
    rep.add(sec, "queues", Status.INFO, queues)
    if view.rings:
        rep.add(sec, "rings", Status.INFO, f"rx {view.rings.rx}/{view.rings.rx_max}, tx {view.rings.tx}/{view.rings.tx_max}")

    rps = [q for q in fs.listdir(f"{base}/queues") if q.startswith("rx-")
           and (fs.read(f"{base}/queues/{q}/rps_cpus") or "0").replace(",", "").strip("0")]
    if rps:
        rep.add(sec, "RPS", Status.WARN, f"on for {', '.join(rps)}: packets are handed to other cores in software",
                f"wirespeed tune apply --iface {ifname} (or: echo 0 > {base}/queues/<rx-N>/rps_cpus)")
    elif rx_queues:
        rep.add(sec, "RPS", Status.PASS, "off")

    mtu = fs.read_int(f"{base}/mtu") or 0
    facts["mtu"] = mtu
    if mtu > XDP_SINGLE_BUFFER_MTU:
        rep.add(sec, "MTU", Status.WARN, f"{mtu}: above {XDP_SINGLE_BUFFER_MTU}, many drivers refuse native XDP",
                f"ip link set dev {ifname} mtu 1500")
    else:
        rep.add(sec, "MTU", Status.PASS, str(mtu))

    if view.lro:
        rep.add(sec, "LRO", Status.FAIL, "on: merges packets, and native XDP refuses to attach",
                f"wirespeed tune apply --iface {ifname} (or: ethtool -K {ifname} lro off)")
    elif view.lro is False:
        rep.add(sec, "LRO", Status.PASS, "off")
    if view.gro:
        rep.add(sec, "GRO", Status.WARN, "on: adds batching delay on the kernel path",
                f"wirespeed tune apply --iface {ifname} (or: ethtool -K {ifname} gro off)")
    elif view.gro is False:
        rep.add(sec, "GRO", Status.PASS, "off")

    co = view.coalesce
    if co is None:
        rep.add(sec, "interrupt coalescing", Status.INFO, "driver does not report it")
    elif co.adaptive_rx or co.rx_usecs > 0:
        rep.add(sec, "interrupt coalescing", Status.WARN,
                f"rx-usecs {co.rx_usecs}, adaptive-rx {'on' if co.adaptive_rx else 'off'}: delays each packet",
                f"wirespeed tune apply --iface {ifname} (or: ethtool -C {ifname} adaptive-rx off rx-usecs 0)")
    else:
        rep.add(sec, "interrupt coalescing", Status.PASS, "off (rx-usecs 0)")

    ts = view.timestamping
    facts["hw_timestamps"] = bool(ts and ts.hardware_rx_all)
    if ts and ts.rx_phc is not None:
        rep.add(sec, "hardware timestamps", Status.PASS,
                f"RX all packets, PHC /dev/ptp{ts.phc_index}: the kernel transport's --stamp auto takes them",
                f"the NIC stamps once asked: wirespeed tune apply --iface {ifname} --hw-timestamps")
    elif ts and ts.hardware_rx:
        rep.add(sec, "hardware timestamps", Status.WARN, "RX hardware stamps only for PTP packets",
                "wirespeed stamps feed packets in software (CLOCK_REALTIME at receive)")
    else:
        rep.add(sec, "hardware timestamps", Status.INFO,
                "none: packets are stamped in software (CLOCK_REALTIME at receive)")

    adv = features.get(ifindex) if features else None
    if adv is not None:
        facts["xdp_features"] = adv.names
        rep.add(sec, "XDP advertised", Status.INFO, ", ".join(adv.names) or "none (generic XDP only)")

    root_ok = {"CAP_NET_ADMIN", "CAP_NET_RAW"} <= have and bool({"CAP_BPF", "CAP_SYS_ADMIN"} & have)
    if not may_try or not root_ok:
        why = "needs root" if not root_ok else f"attaching XDP can reset a NIC's rings; try with --iface {ifname}"
        rep.add(sec, "native XDP", Status.INFO,
                f"not tried ({why})" + (f"; driver advertises {'yes' if adv.native else 'no'}" if adv else ""))
        rep.add(sec, "AF_XDP zero-copy", Status.INFO,
                f"not tried ({why})" + (f"; driver advertises {'yes' if adv.zerocopy else 'no'}" if adv else ""))
        rep.add(sec, "order TCP over AF_XDP", Status.INFO, f"not tried ({why})")
        return
    _try_xdp(rep, probes, sec, ifname, ifindex, facts)
    _user_tcp(rep, sec, ifname, facts)


def _try_xdp(rep: Report, probes: Probes, sec: str, ifname: str, ifindex: int, facts: dict[str, object]) -> None:
    err = probes.xdp_attach(ifindex, native=True)
    facts["native_xdp"] = err is None
    if err is None:
        rep.add(sec, "native XDP", Status.PASS, "yes (XDP_PASS attached through a bpf_link and detached)")
    else:
        generic = probes.xdp_attach(ifindex, native=False)
        facts["generic_xdp"] = generic is None
        if generic is None:
            rep.add(sec, "native XDP", Status.WARN, f"no ({err.strerror}); generic XDP works, slower",
                    "use a NIC whose driver has native XDP (ice, i40e, ixgbe, mlx5, veth, virtio_net...)")
        else:
            rep.add(sec, "native XDP", Status.FAIL, f"no ({err.strerror}); generic XDP also refused ({generic.strerror})",
                    "check `ip link show` for another XDP program on the interface")

    zc = probes.xsk_bind(ifindex, zerocopy=True)
    facts["xsk_zerocopy"] = zc is None
    if zc is None:
        rep.add(sec, "AF_XDP zero-copy", Status.PASS, "yes (bound queue 0 with XDP_ZEROCOPY)")
        return
    copy = probes.xsk_bind(ifindex, zerocopy=False)
    facts["xsk_copy"] = copy is None
    if zc.errno == errno.EBUSY:
        rep.add(sec, "AF_XDP zero-copy", Status.WARN, "queue 0 is held by another AF_XDP socket",
                "stop the other capture (wirespeed capture?) and run doctor again")
    elif copy is None:
        rep.add(sec, "AF_XDP zero-copy", Status.WARN, "no: copy mode only (driver has no zero-copy)",
                "zero-copy needs a NIC such as ice, i40e, mlx5 or igc; copy mode still bypasses the stack")
    else:
        rep.add(sec, "AF_XDP zero-copy", Status.FAIL, f"no, and copy mode refused too ({copy.strerror})",
                "see the AF_XDP and privileges checks above")


def _user_tcp(rep: Report, sec: str, ifname: str, facts: dict[str, object]) -> None:
    """Can the order session's TCP run in user space here (Session(transport="af_xdp"),
    trade --order-transport af_xdp)? It needs XDP on the interface, an AF_XDP socket on
    queue 0 and every segment of its connection arriving there."""
    xdp = facts.get("native_xdp") or facts.get("generic_xdp")
    xsk = facts.get("xsk_zerocopy") or facts.get("xsk_copy")
    rxq = int(facts.get("rx_queues") or 1)  # type: ignore[call-overload]
    if not xdp or not xsk:
        why = "no XDP program attaches" if not xdp else "no AF_XDP socket binds queue 0"
        rep.add(sec, "order TCP over AF_XDP", Status.FAIL, f"no: {why}", "use the kernel's TCP (the default)")
    elif rxq > 1:
        rep.add(sec, "order TCP over AF_XDP", Status.WARN,
                f"not as is: {rxq} receive queues, and the connection is received on queue 0 only",
                f"ethtool -L {ifname} combined 1, or use the kernel's TCP (the default)")
    else:
        note = (": a veth peer with checksum offload leaves the exchange's checksums partial (accepted, counted "
                "as csum_partial)") if facts.get("driver") == "veth" else ""
        rep.add(sec, "order TCP over AF_XDP", Status.PASS,
                f"yes (queue 0, {'zero-copy' if facts.get('xsk_zerocopy') else 'copy mode'}){note}")
    facts["user_tcp"] = bool(xdp and xsk and rxq == 1)


def _isolated(fs: HostFS) -> set[int]:
    """Cores kept from the scheduler: /sys says what the kernel did, the
    command line what was asked (a fixture may carry either)."""
    return parse_cpulist(fs.read("/sys/devices/system/cpu/isolated")) or parse_cpulist(fs.cmdline().get("isolcpus"))


def _cpu(rep: Report, fs: HostFS, isolated: set[int]) -> None:
    sec = "cpu"
    cmd = fs.cmdline()
    online = parse_cpulist(fs.read("/sys/devices/system/cpu/online"))
    rep.add(sec, "cores", Status.INFO, f"{len(online)} online")
    rep.facts["isolated_cpus"] = sorted(isolated)
    spare = ",".join(str(c) for c in sorted(online)[1:]) or "1"
    if isolated:
        rep.add(sec, "isolcpus", Status.PASS, f"cores {format_cpulist(isolated)} isolated")
    else:
        rep.add(sec, "isolcpus", Status.WARN, "no isolated cores: the scheduler can preempt the rx thread",
                f"boot with isolcpus={spare} nohz_full={spare} rcu_nocbs={spare}")
    nohz_text = fs.read("/sys/devices/system/cpu/nohz_full")
    nohz = parse_cpulist(nohz_text if nohz_text != "(null)" else "") or parse_cpulist(cmd.get("nohz_full"))
    if nohz:
        rep.add(sec, "nohz_full", Status.PASS, f"cores {format_cpulist(nohz)} tickless")
    else:
        rep.add(sec, "nohz_full", Status.WARN, "off: the timer tick interrupts busy-poll cores",
                f"boot with nohz_full={format_cpulist(isolated) if isolated else spare}")
    rcu = parse_cpulist(cmd.get("rcu_nocbs"))
    if rcu:
        rep.add(sec, "rcu_nocbs", Status.PASS, f"cores {format_cpulist(rcu)} offloaded")
    else:
        rep.add(sec, "rcu_nocbs", Status.WARN, "off: RCU callbacks run on busy-poll cores",
                f"boot with rcu_nocbs={format_cpulist(isolated) if isolated else spare}")

    governors = {g for c in sorted(online)
                 if (g := fs.read(f"/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"))}
    if not governors:
        rep.add(sec, "governor", Status.INFO, "no cpufreq (virtual machine or fixed frequency)")
    elif governors == {"performance"}:
        rep.add(sec, "governor", Status.PASS, "performance")
    else:
        rep.add(sec, "governor", Status.WARN, ", ".join(sorted(governors)) + ": clock ramps add jitter",
                "wirespeed tune apply (or: cpupower frequency-set -g performance)")

    smt = fs.read("/sys/devices/system/cpu/smt/active")
    if smt == "1":
        rep.add(sec, "SMT", Status.WARN, "on: a sibling hyperthread shares the rx core's caches",
                "echo off > /sys/devices/system/cpu/smt/control (or isolate both siblings)")
    elif smt == "0":
        rep.add(sec, "SMT", Status.PASS, "off")
    else:
        rep.add(sec, "SMT", Status.INFO, "unknown")


def _irqs(rep: Report, fs: HostFS, ifname: str, isolated: set[int]) -> None:
    sec = f"interface {ifname}"
    facts: dict[str, object] = rep.facts["interfaces"][ifname]  # type: ignore[index]
    dev = f"/sys/class/net/{ifname}/device"
    numa = fs.read_int(f"{dev}/numa_node")
    if numa is not None and numa >= 0:
        facts["numa_node"] = numa
        rep.add(sec, "NUMA node", Status.INFO, f"{numa}: pin the rx thread and the ring to this node")
    else:
        rep.add(sec, "NUMA node", Status.INFO, "none reported (virtual device or single node)")
    irqs = [int(i) for i in fs.listdir(f"{dev}/msi_irqs") if i.isdigit()]
    if not irqs:
        rep.add(sec, "IRQ affinity", Status.INFO, "no MSI interrupts (virtual device)")
        return
    placed = {i: parse_cpulist(fs.read(f"/proc/irq/{i}/smp_affinity_list")) for i in irqs}
    listing = "; ".join(f"{i}->{format_cpulist(c) or '?'}" for i, c in placed.items())
    on_isolated = [i for i, c in placed.items() if c & isolated]
    if on_isolated:
        rep.add(sec, "IRQ affinity", Status.WARN, f"IRQs {on_isolated} can fire on isolated cores ({listing})",
                f"wirespeed tune apply --iface {ifname} (or: echo <housekeeping cpus> > /proc/irq/N/smp_affinity_list)")
    else:
        rep.add(sec, "IRQ affinity", Status.INFO, listing)


def _memory(rep: Report, fs: HostFS, have: set[str]) -> None:
    sec = "memory"
    sizes = [d for d in fs.listdir("/sys/kernel/mm/hugepages") if d.startswith("hugepages-")]
    pages: dict[str, dict[str, int]] = {}
    for d in sizes:
        kb = int(d.removeprefix("hugepages-").removesuffix("kB"))
        label = f"{kb // 1024} MiB" if kb < 1 << 20 else f"{kb >> 20} GiB"
        total = fs.read_int(f"/sys/kernel/mm/hugepages/{d}/nr_hugepages") or 0
        free = fs.read_int(f"/sys/kernel/mm/hugepages/{d}/free_hugepages") or 0
        pages[label] = {"total": total, "free": free}
        name = f"hugepages {label}"
        others = any((fs.read_int(f"/sys/kernel/mm/hugepages/{o}/nr_hugepages") or 0) > 0 for o in sizes if o != d)
        if total == 0 and others:  # one size with pages reserved is enough for rings
            rep.add(sec, name, Status.INFO, "none reserved (another size is)")
        elif total == 0:
            count = 1024 if kb == 2048 else 2
            rep.add(sec, name, Status.WARN, "none reserved: rings can only use /dev/shm (4 KiB pages, more TLB misses)",
                    f"wirespeed tune apply (or: echo {count} > /sys/kernel/mm/hugepages/{d}/nr_hugepages)")
        elif free == 0:
            rep.add(sec, name, Status.WARN, f"exhausted: {total} reserved, 0 free",
                    f"free some, or reserve more: echo {total * 2} > /sys/kernel/mm/hugepages/{d}/nr_hugepages")
        else:
            rep.add(sec, name, Status.PASS, f"{free} free of {total}")
    rep.facts["hugepages"] = pages
    if not sizes:
        rep.add(sec, "hugepages", Status.WARN, "kernel has no hugepage support", "kernel needs CONFIG_HUGETLBFS=y")

    mounts = [(m, o) for m, t, o in fs.mounts() if t == "hugetlbfs"]
    rep.facts["hugetlbfs_mounts"] = [m for m, _ in mounts]
    if mounts:
        rep.add(sec, "hugetlbfs mount", Status.PASS, ", ".join(f"{m} ({o})" for m, o in mounts))
    else:
        rep.add(sec, "hugetlbfs mount", Status.WARN, "none mounted: rings can only use /dev/shm",
                "wirespeed tune apply (or: mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages)")

    limit = None
    for line in (fs.read("/proc/self/limits") or "").splitlines():
        if line.startswith("Max locked memory"):
            limit = line.split()[3]
    if "CAP_IPC_LOCK" in have:
        rep.add(sec, "memlock", Status.PASS, f"limit {limit or '?'}; CAP_IPC_LOCK lifts it")
    elif limit == "unlimited":
        rep.add(sec, "memlock", Status.PASS, "unlimited")
    else:
        mib = int(limit) >> 20 if limit and limit.isdigit() else 0
        rep.add(sec, "memlock", Status.WARN, f"{mib} MiB without CAP_IPC_LOCK: caps the AF_XDP UMEM",
                "ulimit -l unlimited (or LimitMEMLOCK=infinity in the service unit)")

    thp = fs.read("/sys/kernel/mm/transparent_hugepage/enabled") or ""
    mode = re.search(r"\[(\w+)\]", thp)
    if not mode:
        rep.add(sec, "transparent hugepages", Status.INFO, "unknown")
    elif mode.group(1) == "always":
        rep.add(sec, "transparent hugepages", Status.WARN, "always: khugepaged compaction causes latency spikes",
                "wirespeed tune apply (or: echo madvise > /sys/kernel/mm/transparent_hugepage/enabled)")
    else:
        rep.add(sec, "transparent hugepages", Status.PASS, mode.group(1))


DPDK_DRIVERS = ("vfio-pci", "uio_pci_generic", "igb_uio")  # kernel drivers that hand a NIC to DPDK


def _dpdk(rep: Report, fs: HostFS, probes: Probes) -> None:
    """Can `--transport dpdk` run here, how, and on which ports?"""
    sec = "dpdk"
    lib = probes.pkg_config_version("libdpdk")
    built, why = probes.dpdk_transport()
    rep.facts["dpdk"] = {"libdpdk": lib, "transport": built}
    if built:
        rep.add(sec, "dpdk transport", Status.PASS, f"available ({why})")
    elif lib:
        rep.add(sec, "dpdk transport", Status.WARN, f"libdpdk {lib} is installed but wirespeed was built without it",
                "rebuild: ./setup.sh (or pip install -e .)")
    else:
        rep.add(sec, "dpdk transport", Status.WARN, "unavailable: no libdpdk >= 22.11",
                "apt-get install dpdk-dev librte-net-af-xdp23, then ./setup.sh")
    free = 0
    if fs.read_int("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"):
        free = (fs.read_int("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") or 0) * 2
    mounted = any(t == "hugetlbfs" for _, t, _ in fs.mounts())
    if free >= 256 and mounted:
        rep.add(sec, "dpdk memory", Status.PASS, f"{free} MB of free 2 MB hugepages: EAL runs --in-memory")
    else:
        lack = "no hugetlbfs mounted" if not mounted else f"{free} MB of free 2 MB hugepages"
        rep.add(sec, "dpdk memory", Status.WARN,
                f"{lack}: EAL runs --no-huge (4 KiB pages: more TLB misses; a PCI NIC needs an IOMMU to DMA there)",
                "echo 256 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
                + ("" if mounted else " && mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages"))
    bound = [f"{dev} ({drv})" for drv in DPDK_DRIVERS for dev in fs.listdir(f"/sys/bus/pci/drivers/{drv}")
             if ":" in dev]
    rep.facts["dpdk"]["bound"] = bound
    if bound:
        rep.add(sec, "dpdk ports", Status.PASS, ", ".join(bound) + ": --dpdk-port ADDRESS")
    else:
        rep.add(sec, "dpdk ports", Status.INFO,
                "no NIC bound to a DPDK driver: use a vdev on a kernel interface (--dpdk-port net_af_xdp0,iface=IF)",
                "or bind a NIC DPDK may own: modprobe vfio-pci && dpdk-devbind.py -b vfio-pci ADDRESS")


def _peers(rep: Report, probes: Probes) -> None:
    sec = "peers"
    found: dict[str, str | None] = {}
    found["libdpdk"] = probes.pkg_config_version("libdpdk")  # the dpdk section says what it means
    for prog in ("dpdk-testpmd", "dpdk-devbind.py"):
        path = probes.which(prog)
        found[prog] = path
        rep.add(sec, prog, Status.PASS if path else Status.INFO, path or "not installed",
                None if path else "apt-get install dpdk")
    onload = probes.which("onload") or probes.shared_lib("onload")
    found["onload"] = onload
    rep.add(sec, "OpenOnload", Status.PASS if onload else Status.INFO, onload or "not installed (optional: accelerates the kernel transport on AMD Solarflare NICs)")
    for prog, pkg in (("sockperf", "sockperf"), ("tshark", "tshark"), ("ethtool", "ethtool")):
        path = probes.which(prog)
        found[prog] = path
        rep.add(sec, prog, Status.PASS if path else Status.WARN, path or "not installed",
                None if path else f"apt-get install {pkg}")
    rep.facts["peers"] = found
