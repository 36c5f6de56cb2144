"""`wirespeed tune`: set a host up for capture the way `doctor` asks, with a way back.

`plan` reads the host and says, for a capture (its interfaces, receive
cores, ring size, transport), every change it would make and why: 2 MiB
hugepages for the ring (and DPDK's pool), a hugetlbfs mount, the
interface's IRQs away from the receive cores, RPS and XPS off, GRO and LRO
off, interrupt coalescing to 0, busy-poll sysctls for a busy-polling kernel
capture, threaded NAPI, the performance governor, transparent hugepages to
madvise, the BPF JIT on, and (asked for) hardware RX timestamping. The boot
flags (isolcpus, nohz_full, rcu_nocbs) are printed, never written.

`apply` makes the runtime changes one by one: each is shown, recorded with
its previous value in the state file *before* it is made, made, and read
back. The first that fails or does not read back stops the apply; what was
done stays recorded, so `revert` puts it back. `revert` restores every
recorded value, last change first, and forgets each one it restored.
Applying twice changes nothing the second time (the plan is empty), and a
value recorded by an earlier apply keeps its original previous value.

Interfaces are only ever touched when named (--iface or the capture
config): tune never picks one itself, and refuses a name that does not
exist. Runtime changes do not survive a reboot, and neither does the state
file (/run/wirespeed/tune.json).

Everything goes through `Host`: a HostFS (files under /proc and /sys; a
fixture tree in tests) and a `Device` (ethtool, hardware timestamping,
mount; a fake in tests).
"""
from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from wirespeed.errors import UsageError, WirespeedError
from wirespeed.system import ethtool
from wirespeed.system.hostfs import HostFS, format_cpulist, parse_cpulist

STATE_FILE = Path("/run/wirespeed/tune.json")
HUGE_2M = "/sys/kernel/mm/hugepages/hugepages-2048kB"
HUGETLBFS_MOUNT = "/dev/hugepages"
DPDK_POOL_PAGES = 128  # 256 MB of 2 MiB pages: what doctor asks for an EAL with hugepages
BUSY_POLL_US = "50"
PARTS = ("hugepages", "hugetlbfs", "irq", "rps", "xps", "offloads", "coalesce", "busypoll", "napi", "governor",
         "thp", "jit", "hwtstamp", "boot")


_ROOT_HINT = "tune changes kernel settings: run it as root (sudo)"


class TuneError(WirespeedError):
    """A change was refused or did not read back; what was done is recorded for revert."""


@dataclass(frozen=True)
class TuneOptions:
    """What the host is tuned for: a capture's interfaces, cores and memory."""

    ifaces: tuple[str, ...] = ()
    rx_cpus: frozenset[int] = frozenset()   # receive cores (the capture's --cpu); empty: the isolated cores
    ring_bytes: int = 0                      # a ring file to back with 2 MiB hugepages (0: none)
    dpdk: bool = False                       # the DPDK transport: its EAL pool in hugepages
    busy_poll: bool = False                  # a busy-polling kernel-socket capture
    hw_timestamps: bool = False              # ask the NIC to stamp every received packet
    only: frozenset[str] | None = None       # parts to plan (default: all)

    def wants(self, part: str) -> bool:
        return self.only is None or part in self.only


@dataclass
class Change:
    """One setting: where, from what, to what, and why. `boot` changes are only printed."""

    part: str
    target: str           # file:/proc/..., ethtool:IF:gro|lro|coalesce|hwtstamp, mount:/dev/hugepages, boot:NAME
    old: str | None
    new: str
    why: str
    state: str = "planned"  # planned | recording | applied | failed | boot

    @property
    def boot(self) -> bool:
        return self.target.startswith("boot:")

    def describe(self) -> str:
        return f"{self.target}: {self.old if self.old is not None else '(none)'} -> {self.new}"


class Device(Protocol):
    """What is changed through ioctls and mount(2), not files."""

    def get(self, ifname: str, what: str) -> str | None: ...
    def set(self, ifname: str, what: str, value: str) -> None: ...
    def ts_info(self, ifname: str) -> ethtool.TimestampInfo | None: ...
    def mounted(self, path: str) -> bool: ...
    def mount_hugetlbfs(self, path: str) -> None: ...
    def umount(self, path: str) -> None: ...


class LiveDevice:
    """The real ioctls and mount(2), on this host."""

    def __init__(self, fs: HostFS) -> None:
        self.fs = fs

    def get(self, ifname: str, what: str) -> str | None:
        if what == "gro":
            v = ethtool.gro(ifname)
            return None if v is None else ("on" if v else "off")
        if what == "lro":
            v = ethtool.lro(ifname)
            return None if v is None else ("on" if v else "off")
        if what == "coalesce":
            c = ethtool.coalesce(ifname)
            return None if c is None else _coalesce_text(c.rx_usecs, c.adaptive_rx)
        if what == "hwtstamp":
            h = ethtool.hwtstamp(ifname)
            return None if h is None else f"tx {h.tx_type} rx {h.rx_filter}"
        raise ValueError(what)

    def set(self, ifname: str, what: str, value: str) -> None:
        if what == "gro":
            ethtool.set_gro(ifname, value == "on")
        elif what == "lro":
            ethtool.set_lro(ifname, value == "on")
        elif what == "coalesce":
            usecs, adaptive = _parse_coalesce(value)
            ethtool.set_coalesce(ifname, usecs, adaptive)
        elif what == "hwtstamp":
            tx, rx = _parse_hwtstamp(value)
            ethtool.set_hwtstamp(ifname, ethtool.HwTstampConfig(0, tx, rx))
        else:
            raise ValueError(what)

    def ts_info(self, ifname: str) -> ethtool.TimestampInfo | None:
        try:
            return ethtool.timestamping(ifname)
        except OSError:
            return None

    def mounted(self, path: str) -> bool:
        return any(m == path and t == "hugetlbfs" for m, t, _ in self.fs.mounts())

    def mount_hugetlbfs(self, path: str) -> None:
        os.makedirs(self.fs.path(path), exist_ok=True)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mount(b"nodev", os.fsencode(self.fs.path(path)), b"hugetlbfs", 0, b"pagesize=2M") != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"mount -t hugetlbfs nodev {path}: {os.strerror(e)}")

    def umount(self, path: str) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.umount2(os.fsencode(self.fs.path(path)), 0) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"umount {path}: {os.strerror(e)}")


def _coalesce_text(usecs: int, adaptive: bool) -> str:
    return f"rx-usecs {usecs} adaptive-rx {'on' if adaptive else 'off'}"


def _parse_coalesce(text: str) -> tuple[int, bool]:
    m = re.fullmatch(r"rx-usecs (\d+) adaptive-rx (on|off)", text)
    if not m:
        raise ValueError(f"coalescing value {text!r}")
    return int(m.group(1)), m.group(2) == "on"


def _parse_hwtstamp(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"tx (\d+) rx (\d+)", text)
    if not m:
        raise ValueError(f"timestamping value {text!r}")
    return int(m.group(1)), int(m.group(2))


@dataclass
class Host:
    fs: HostFS = field(default_factory=HostFS)
    dev: Device | None = None

    def __post_init__(self) -> None:
        if self.dev is None:
            self.dev = LiveDevice(self.fs)

    # -- one way to read and write any target ---------------------------------
    def read(self, target: str) -> str | None:
        kind, _, rest = target.partition(":")
        assert self.dev is not None
        if kind == "file":
            return self.fs.read(rest)
        if kind == "ethtool":
            ifname, _, what = rest.rpartition(":")
            return self.dev.get(ifname, what)
        if kind == "mount":
            if self.dev.mounted(rest):
                return "mounted"
            return "unmounted" if self.fs.exists(rest) else "absent"
        raise ValueError(target)

    def write(self, target: str, value: str) -> None:
        kind, _, rest = target.partition(":")
        assert self.dev is not None
        if kind == "file":
            self.fs.write(rest, value)
        elif kind == "ethtool":
            ifname, _, what = rest.rpartition(":")
            self.dev.set(ifname, what, value)
        elif kind == "mount":
            if value == "mounted":
                self.dev.mount_hugetlbfs(rest)
            else:
                if self.dev.mounted(rest):
                    self.dev.umount(rest)
                if value == "absent":
                    try:
                        os.rmdir(self.fs.path(rest))
                    except FileNotFoundError:
                        pass
        else:
            raise ValueError(target)


def same(target: str, a: str | None, b: str | None) -> bool:
    """Whether two values of `target` mean the same (masks in hex, CPU lists, [selected] choices)."""
    if a is None or b is None:
        return a == b
    path = target.removeprefix("file:")
    if path.endswith(("rps_cpus", "xps_cpus")):
        try:
            return int(a.replace(",", ""), 16) == int(b.replace(",", ""), 16)
        except ValueError:
            return a == b
    if path.endswith("smp_affinity_list"):
        return parse_cpulist(a) == parse_cpulist(b)
    if path.endswith("transparent_hugepage/enabled"):
        return _selected(a) == _selected(b)
    return a.strip() == b.strip()


def _selected(text: str) -> str:
    m = re.search(r"\[(\w+)\]", text)
    return m.group(1) if m else text.strip()


# -- the plan --------------------------------------------------------------------

def plan(opts: TuneOptions, host: Host | None = None) -> list[Change]:
    """Every change `apply` would make now (empty when the host is as asked), and the boot flags."""
    host = host or Host()
    fs = host.fs
    for name in opts.ifaces:
        if not fs.exists(f"/sys/class/net/{name}"):
            raise UsageError(f"no interface named {name!r} in this network namespace",
                             "name the capture interface with --iface (list them: ip -br link)")
    online = parse_cpulist(fs.read("/sys/devices/system/cpu/online"))
    isolated = parse_cpulist(fs.read("/sys/devices/system/cpu/isolated")) or parse_cpulist(fs.cmdline().get("isolcpus"))
    rx = set(opts.rx_cpus) or isolated
    changes: list[Change] = []

    def want(part: str, target: str, new: str, why: str) -> None:
        if not opts.wants(part):
            return
        try:
            old = host.read(target)
        except OSError:
            return  # the driver will not say: tune cannot know what to put back, so it does not touch it
        if old is None and not target.startswith("mount:"):
            return  # the host has no such setting (no cpufreq, a driver without coalescing)
        if not same(target, old, new):
            changes.append(Change(part, target, old, new, why))

    _hugepages(opts, host, changes)
    if opts.wants("hugetlbfs") and not any(t == "hugetlbfs" for _, t, _ in fs.mounts()):
        want("hugetlbfs", f"mount:{HUGETLBFS_MOUNT}", "mounted", "rings and DPDK's EAL on 2 MiB pages")
    for name in opts.ifaces:
        _interface(opts, host, name, rx, online, want)
    if opts.busy_poll:
        for knob in ("busy_poll", "busy_read"):
            want("busypoll", f"file:/proc/sys/net/core/{knob}", BUSY_POLL_US,
                 "a busy-polling kernel capture: poll the NIC queue instead of sleeping for an interrupt")
    for c in sorted(online):
        want("governor", f"file:/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor", "performance",
             "no clock ramps under bursts")
    thp = fs.read("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp and _selected(thp) == "always":
        want("thp", "file:/sys/kernel/mm/transparent_hugepage/enabled", "madvise",
             "khugepaged compaction stalls; wirespeed asks for huge pages explicitly")
    if fs.read_int("/proc/sys/net/core/bpf_jit_enable") == 0:
        want("jit", "file:/proc/sys/net/core/bpf_jit_enable", "1", "the XDP filter compiled, not interpreted")
    if opts.wants("boot"):
        _boot(fs, online, rx, changes)
    return changes


def _hugepages(opts: TuneOptions, host: Host, changes: list[Change]) -> None:
    fs = host.fs
    if not opts.wants("hugepages") or not fs.exists(HUGE_2M):
        return
    need = math.ceil(opts.ring_bytes / (2 << 20)) + (DPDK_POOL_PAGES if opts.dpdk else 0)
    total = fs.read_int(f"{HUGE_2M}/nr_hugepages") or 0
    free = fs.read_int(f"{HUGE_2M}/free_hugepages") or 0
    need = max(need, 1 if total == 0 else 0)  # a host with none reserved cannot put any ring on hugetlbfs
    if free >= need:
        return
    new = total - free + need
    what = []
    if opts.ring_bytes:
        what.append(f"{math.ceil(opts.ring_bytes / (2 << 20))} for the ring file")
    if opts.dpdk:
        what.append(f"{DPDK_POOL_PAGES} for DPDK's EAL pool")
    changes.append(Change("hugepages", f"file:{HUGE_2M}/nr_hugepages", str(total), str(new),
                          f"{need} free 2 MiB pages needed ({', '.join(what) or 'none reserved'}); {free} free now"))


Want = Callable[[str, str, str, str], None]  # (part, target, new value, why): plan it if it differs


def _interface(opts: TuneOptions, host: Host, name: str, rx: set[int], online: set[int], want: Want) -> None:
    fs = host.fs
    base = f"/sys/class/net/{name}"
    housekeeping = online - rx
    if opts.wants("irq") and rx and housekeeping:
        for irq in sorted(int(i) for i in fs.listdir(f"{base}/device/msi_irqs") if i.isdigit()):
            cur = parse_cpulist(fs.read(f"/proc/irq/{irq}/smp_affinity_list"))
            if cur & rx:
                want("irq", f"file:/proc/irq/{irq}/smp_affinity_list", format_cpulist(housekeeping),
                     f"{name}'s interrupt off the receive cores {format_cpulist(rx)}")
    for q in fs.listdir(f"{base}/queues"):
        if q.startswith("rx-"):
            want("rps", f"file:{base}/queues/{q}/rps_cpus", "0", "no software steering of received packets to other cores")
        elif q.startswith("tx-"):
            want("xps", f"file:{base}/queues/{q}/xps_cpus", "0", "no transmit queue choice by core")
    want("offloads", f"ethtool:{name}:lro", "off", "LRO merges packets, and native XDP refuses to attach")
    want("offloads", f"ethtool:{name}:gro", "off", "GRO batches packets on the kernel path: delay")
    want("coalesce", f"ethtool:{name}:coalesce", _coalesce_text(0, False), "an interrupt per packet, no waiting")
    if rx:
        want("napi", f"file:{base}/threaded", "1",
             "NAPI in a kernel thread the scheduler keeps off the receive cores, not in softirq on them")
    if opts.hw_timestamps and opts.wants("hwtstamp"):
        assert host.dev is not None
        info = host.dev.ts_info(name)
        if info is not None and info.hardware_rx_all:
            cur = host.read(f"ethtool:{name}:hwtstamp")
            tx = _parse_hwtstamp(cur)[0] if cur else ethtool.HWTSTAMP_TX_OFF
            want("hwtstamp", f"ethtool:{name}:hwtstamp", f"tx {tx} rx {ethtool.HWTSTAMP_FILTER_ALL}",
                 f"the NIC stamps every received packet (PHC /dev/ptp{info.phc_index})")


def _boot(fs: HostFS, online: set[int], rx: set[int], changes: list[Change]) -> None:
    cmd = fs.cmdline()
    cores = rx or set(sorted(online)[1:])
    if not cores:
        return
    for flag, why in (("isolcpus", "the scheduler keeps other work off the receive cores"),
                      ("nohz_full", "no timer tick on the busy-polling cores"),
                      ("rcu_nocbs", "RCU callbacks off the busy-polling cores")):
        if not parse_cpulist(cmd.get(flag)):
            c = Change("boot", f"boot:{flag}", None, format_cpulist(cores), why)
            c.state = "boot"
            changes.append(c)


# -- the state file, apply and revert --------------------------------------------

@dataclass
class State:
    path: Path
    changes: list[Change] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> State:
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return cls(path)
        except PermissionError as exc:
            raise TuneError(f"{path}: {exc.strerror}", _ROOT_HINT) from None
        except (OSError, ValueError) as exc:
            raise TuneError(f"{path}: unreadable tune state ({exc})",
                            "look at it; remove it only once the host is as you want it") from None
        try:
            changes = [Change(**c) for c in doc["changes"]]
        except (KeyError, TypeError) as exc:
            raise TuneError(f"{path}: not a tune state file ({exc})", "remove it if it is not wirespeed's") from None
        return cls(path, changes)

    def save(self) -> None:
        """Written whole and renamed into place; a change is never made unless this succeeded."""
        try:
            if not self.changes:
                self.path.unlink(missing_ok=True)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            doc = {"version": 1, "host": socket.gethostname(), "saved_ns": time.time_ns(),
                   "changes": [asdict(c) for c in self.changes]}
            tmp.write_text(json.dumps(doc, indent=2) + "\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise TuneError(f"cannot write the tune state {self.path}: {exc.strerror or exc}",
                            _ROOT_HINT if exc.errno in (errno.EACCES, errno.EPERM) else
                            "give a writable --state path") from None

    def recorded(self, target: str) -> Change | None:
        return next((c for c in self.changes if c.target == target), None)


@dataclass
class ApplyResult:
    done: list[Change] = field(default_factory=list)
    unsupported: list[Change] = field(default_factory=list)  # the driver or kernel has no such setting


Show = Callable[[Change, str], None]  # (change, phase): the CLI prints each step


def apply(changes: list[Change], host: Host, state_path: Path = STATE_FILE, show: Show | None = None) -> ApplyResult:
    """Make the runtime changes in order; see the module. `show(change, phase)` is told
    'before', then 'done' or 'unsupported', for each. A setting the driver does not
    support (EOPNOTSUPP: veth has no threaded NAPI without XDP) is skipped and said;
    any other refusal stops the apply."""
    state = State.load(state_path)
    res = ApplyResult()
    done = res.done
    for c in changes:
        if c.boot:
            continue
        if show is not None:
            show(c, "before")
        prior = state.recorded(c.target)
        if prior is None:  # the first change of this target: its value now is the one to go back to
            c.state = "recording"
            state.changes.append(c)
        else:
            prior.state = "recording"
        state.save()
        try:
            host.write(c.target, c.new)
        except OSError as exc:
            c.state = "failed"
            if prior is None and same(c.target, host.read(c.target), c.old):
                state.changes.remove(c)  # refused, nothing changed: nothing to revert
            elif prior is not None:
                prior.state = "applied"
            state.save()
            if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
                c.state = "unsupported"
                res.unsupported.append(c)
                if show is not None:
                    show(c, "unsupported")
                continue
            hint = "`wirespeed tune revert` puts back what was done"
            raise TuneError(f"{c.target}: {exc.strerror or exc}; stopped after {len(done)} change(s)",
                            f"{_ROOT_HINT}; {hint}" if exc.errno in (errno.EACCES, errno.EPERM) else hint) from None
        now = host.read(c.target)
        rec = prior or c
        if not same(c.target, now, c.new):
            rec.state = "failed"
            state.save()
            raise TuneError(f"{c.target}: set to {c.new} but reads back {now}; stopped after {len(done)} change(s)",
                            "`wirespeed tune revert` puts back what was done")
        rec.state = "applied"
        state.save()
        done.append(c)
        if show is not None:
            show(c, "done")
    return res


@dataclass
class RevertResult:
    restored: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)


def revert(host: Host, state_path: Path = STATE_FILE, show: Show | None = None) -> RevertResult:
    """Put back every recorded value, last change first; forget each one restored.
    A value that cannot be restored stays recorded (and is reported); the rest go on."""
    state = State.load(state_path)
    res = RevertResult()
    for c in reversed(list(state.changes)):
        if c.old is None:
            state.changes.remove(c)  # nothing was there to go back to
            continue
        if show is not None:
            show(c, "revert")
        try:
            if not same(c.target, host.read(c.target), c.old):
                host.write(c.target, c.old)
            now = host.read(c.target)
            if not same(c.target, now, c.old):
                raise OSError(errno.EIO, f"reads back {now}, not {c.old}")
        except OSError as exc:
            res.failed.append((c, exc.strerror or str(exc)))
            continue
        state.changes.remove(c)
        state.save()
        res.restored.append(c)
    state.save()
    return res
