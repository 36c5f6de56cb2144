"""The test host: a second machine for the exchange side, made of a network
namespace and a veth pair, so a simulator and a receiver can talk over a real
(virtual) wire on one box.

    host namespace                          namespace ws-exchange
    ┌─────────────────────────┐ veth pair  ┌──────────────────────────────┐
    │ ws-host0  198.18.0.1/24 │◀──────────▶│ ws-exch0  198.18.0.2/24      │
    │ wirespeed capture       │            │ sim, retransmit server       │
    └─────────────────────────┘            │ route 224.0.0.0/4 dev ws-exch0│
                                           └──────────────────────────────┘

Addresses come from 198.18.0.0/15, the range RFC 2544 reserves for network
benchmarking, so they cannot collide with a real network; `--subnet` picks
another. Everything is done through netlink (pyroute2), nothing by running `ip`.

What wirespeed made is marked, so it never removes what it did not make:
  * both veth ends carry the interface alias "wirespeed testbed <netns>";
  * a namespace it created has an owner file /run/wirespeed/netns/<netns>
    holding the namespace's inode, which tells it apart from a namespace of
    the same name made later by someone else.
/run is a tmpfs, so markers vanish at reboot together with the namespaces.

`up` is idempotent and atomic from the user's view: if any step fails, what
that call made is removed again before the error is raised. Two wirespeed
processes never change a testbed at once (a lock file).
"""
from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2 import netns as pr_netns
from pyroute2.netlink.exceptions import NetlinkError

from wirespeed.errors import PrivilegeError, UsageError, WirespeedError
from wirespeed.system import caps, netns
from wirespeed.system.hostfs import HostFS

STATE_DIR = Path("/run/wirespeed")
MULTICAST_NET = "224.0.0.0/4"
IFNAMSIZ = 16  # kernel limit including the terminating NUL
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
LOCK_WAIT_S = 5.0


@dataclass(frozen=True)
class TestbedConfig:
    """Names and addresses of a test host; every field can be overridden."""

    netns: str = "ws-exchange"
    host_if: str = "ws-host0"
    peer_if: str = "ws-exch0"
    subnet: str = "198.18.0.0/24"

    __test__ = False  # not a pytest test class

    def validate(self) -> TestbedConfig:
        netns.validate_name(self.netns)
        for role, name in (("--host-if", self.host_if), ("--peer-if", self.peer_if)):
            if len(name) > IFNAMSIZ - 1:
                raise UsageError(
                    f"interface name {name!r} is {len(name)} characters; the kernel allows {IFNAMSIZ - 1}",
                    f"choose a shorter name with {role}",
                )
            if not _IFNAME_RE.match(name) or name in (".", ".."):
                raise UsageError(f"invalid interface name {name!r}", f"use A-Z a-z 0-9 _ . - with {role}")
        if self.host_if == self.peer_if:
            raise UsageError("--host-if and --peer-if must differ")
        net = self.network
        if net.num_addresses < 4:
            raise UsageError(f"subnet {self.subnet} is too small", "use a /30 or larger")
        if net.is_multicast or net.is_loopback or net.is_global:
            raise UsageError(
                f"subnet {self.subnet} is not a private or reserved range",
                "use a range such as 198.18.0.0/24 (RFC 2544) or 10.x",
            )
        return self

    @property
    def network(self) -> ipaddress.IPv4Network:
        try:
            return ipaddress.IPv4Network(self.subnet, strict=True)
        except ValueError as exc:
            raise UsageError(f"invalid subnet {self.subnet!r}: {exc}", "give an IPv4 CIDR such as 198.18.0.0/24") from None

    @property
    def host_addr(self) -> str:
        return str(self.network.network_address + 1)

    @property
    def peer_addr(self) -> str:
        return str(self.network.network_address + 2)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    @property
    def alias(self) -> str:
        return f"wirespeed testbed {self.netns}"


@dataclass
class TestbedStatus:
    """What exists of a test host, and whether wirespeed made it."""

    config: TestbedConfig
    netns_exists: bool = False
    netns_owned: bool = False
    host_if_exists: bool = False
    host_if_owned: bool = False
    host_if_up: bool = False
    host_if_addr: bool = False
    host_ifindex: int | None = None
    peer_if_exists: bool = False
    peer_if_up: bool = False
    peer_if_addr: bool = False
    multicast_route: bool = False
    inside_seen: bool = True  # False: the namespace could not be entered (no privilege)
    problems: list[str] = field(default_factory=list)

    __test__ = False

    @property
    def complete(self) -> bool:
        return all((self.netns_owned, self.host_if_owned, self.host_if_up, self.host_if_addr,
                    self.peer_if_exists, self.peer_if_up, self.peer_if_addr, self.multicast_route))

    @property
    def absent(self) -> bool:
        return not (self.netns_exists or self.host_if_exists)

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["config"] = asdict(self.config)
        d["host_addr"] = f"{self.config.host_addr}/{self.config.prefixlen}"
        d["peer_addr"] = f"{self.config.peer_addr}/{self.config.prefixlen}"
        d["complete"] = self.complete
        if self.complete:
            d["state"] = "up"
        elif self.absent:
            d["state"] = "absent"
        else:
            d["state"] = "partial" if self.inside_seen else "unknown"
        return d


# -- privileges, lock, ownership markers -------------------------------------

def require_privileges() -> None:
    have = caps.effective(HostFS())
    missing = [c for c in ("CAP_NET_ADMIN", "CAP_SYS_ADMIN") if c not in have]
    if missing:
        raise PrivilegeError(
            f"the test host needs {' and '.join(missing)} (network namespaces, veth)",
            "run as root: sudo wirespeed testbed ...",
        )


@contextmanager
def _locked() -> Iterator[None]:
    """Serialise testbed changes between processes (flock, released on exit
    or death)."""
    STATE_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd = os.open(STATE_DIR / "testbed.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    raise WirespeedError(
                        f"another wirespeed testbed command is running (pid {holder})",
                        "wait for it to finish, then try again",
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def _owner_file(cfg: TestbedConfig) -> Path:
    return STATE_DIR / "netns" / cfg.netns


def _netns_inode(cfg: TestbedConfig) -> int | None:
    try:
        return os.stat(netns.path(cfg.netns)).st_ino
    except FileNotFoundError:
        return None


def _netns_owned(cfg: TestbedConfig) -> bool:
    ino = _netns_inode(cfg)
    try:
        return ino is not None and int(_owner_file(cfg).read_text().split()[0]) == ino
    except (OSError, ValueError, IndexError):
        return False


def _mark_netns(cfg: TestbedConfig) -> None:
    path = _owner_file(cfg)
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{_netns_inode(cfg)}\n")
    tmp.replace(path)


# -- inspection --------------------------------------------------------------

def _has_addr(ipr: IPRoute, index: int, addr: str, prefixlen: int) -> bool:
    return any(a.get("address") == addr and a["prefixlen"] == prefixlen
               for a in ipr.get_addr(index=index, family=2))


def _is_up(link: object) -> bool:
    return bool(link["flags"] & 1)  # type: ignore[index]  # IFF_UP


def _alias(link: object) -> str | None:
    return link.get("ifalias")  # type: ignore[attr-defined]


def status(cfg: TestbedConfig) -> TestbedStatus:
    """What exists now; needs no lock and changes nothing."""
    cfg.validate()
    st = TestbedStatus(cfg)
    st.netns_exists = netns.exists(cfg.netns)
    st.netns_owned = _netns_owned(cfg)
    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname=cfg.host_if)
        if idx:
            link = ipr.link("get", index=idx[0])[0]
            st.host_if_exists = True
            st.host_ifindex = idx[0]
            st.host_if_owned = _alias(link) == cfg.alias
            st.host_if_up = _is_up(link)
            st.host_if_addr = _has_addr(ipr, idx[0], cfg.host_addr, cfg.prefixlen)
            if not st.host_if_owned:
                st.problems.append(f"link {cfg.host_if} exists but was not made by wirespeed")
    if st.netns_exists and not st.netns_owned:
        st.problems.append(f"network namespace {cfg.netns} exists but was not made by wirespeed")
    if st.netns_exists:
        try:
            with IPRoute(netns=cfg.netns, flags=0) as nipr:
                idx = nipr.link_lookup(ifname=cfg.peer_if)
                if idx:
                    link = nipr.link("get", index=idx[0])[0]
                    st.peer_if_exists = _alias(link) == cfg.alias
                    st.peer_if_up = _is_up(link)
                    st.peer_if_addr = _has_addr(nipr, idx[0], cfg.peer_addr, cfg.prefixlen)
                    # A dump filtered here: get_routes(dst=...) would be a route
                    # lookup, which fails (ENETUNREACH) exactly when the route is gone.
                    mnet, _, mlen = MULTICAST_NET.partition("/")
                    st.multicast_route = any(
                        r.get("dst") == mnet and r["dst_len"] == int(mlen) and r.get("oif") == idx[0]
                        for r in nipr.get_routes(family=2)
                    )
        except (OSError, NetlinkError) as exc:
            st.inside_seen = False
            if isinstance(exc, PermissionError) or getattr(exc, "errno", None) == errno.EPERM:
                st.problems.append(f"cannot look inside namespace {cfg.netns} without CAP_SYS_ADMIN: run as root")
            else:
                st.problems.append(f"cannot look inside namespace {cfg.netns}: {exc}")
    return st


# -- changes -----------------------------------------------------------------

def _refuse_foreign(st: TestbedStatus) -> None:
    """Neither `up` nor `down` ever acts on a namespace or link that someone
    else made under the same name."""
    cfg = st.config
    if st.netns_exists and not st.netns_owned:
        raise UsageError(
            f"network namespace {cfg.netns!r} exists and was not made by wirespeed; leaving it alone",
            f"choose another with --netns, or remove it yourself if it is yours: ip netns del {cfg.netns}",
        )
    if st.host_if_exists and not st.host_if_owned:
        raise UsageError(
            f"a link named {cfg.host_if!r} exists and was not made by wirespeed; leaving it alone",
            "choose another name with --host-if",
        )


def _sysctl(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _prepare_link_sysctls(ifname: str) -> None:
    """No IPv6 on the bed (no router solicitations or MLD reports in the
    captures) and no reverse-path filter surprises when a sender uses a source
    address outside the bed's subnet (source-specific feeds). Runs in the
    namespace that holds the link; only that link's settings change."""
    with suppress(FileNotFoundError):  # a kernel built without IPv6
        _sysctl(f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6", "1")
    _sysctl(f"/proc/sys/net/ipv4/conf/{ifname}/rp_filter", "0")


def up(cfg: TestbedConfig, log: Callable[[str], None] = lambda _m: None) -> TestbedStatus:
    """Make the test host (or complete a partial one); return its status."""
    cfg.validate()
    require_privileges()
    undo: list[tuple[str, Callable[[], None]]] = []
    with _locked():
        st = status(cfg)
        if st.complete:
            log("testbed already up")
            return st
        _refuse_foreign(st)
        try:
            _build(cfg, st, undo, log)
        except BaseException as exc:
            for what, fn in reversed(undo):
                log(f"rolling back: {what}")
                with suppress(Exception):
                    fn()
            if isinstance(exc, WirespeedError):
                raise
            if isinstance(exc, (OSError, NetlinkError)):
                raise WirespeedError(
                    f"could not make the test host: {exc}", "nothing was left behind; see `wirespeed doctor`"
                ) from exc
            raise
        final = status(cfg)
    if not final.complete:
        raise WirespeedError(f"test host incomplete after set-up: {final.as_dict()}")
    return final


def _build(cfg: TestbedConfig, st: TestbedStatus, undo: list, log: Callable[[str], None]) -> None:
    if not st.netns_exists:
        log(f"creating network namespace {cfg.netns}")
        pr_netns.create(cfg.netns)
        undo.append((f"namespace {cfg.netns}", lambda: _remove_netns(cfg)))
        _mark_netns(cfg)
    with IPRoute() as ipr:
        if not st.host_if_exists:
            log(f"creating veth {cfg.host_if} <-> {cfg.netns}:{cfg.peer_if}")
            try:
                ipr.link("add", ifname=cfg.host_if, kind="veth",
                         peer={"ifname": cfg.peer_if, "net_ns_fd": cfg.netns})
            except NetlinkError as exc:
                if exc.code == errno.EEXIST:
                    raise UsageError(
                        f"a link named {cfg.peer_if!r} already exists in namespace {cfg.netns}",
                        "choose another name with --peer-if",
                    ) from None
                raise
            undo.append((f"veth {cfg.host_if}", lambda: _remove_link(cfg.host_if)))
        index = ipr.link_lookup(ifname=cfg.host_if)[0]
        ipr.link("set", index=index, ifalias=cfg.alias)
        _prepare_link_sysctls(cfg.host_if)
        if not _has_addr(ipr, index, cfg.host_addr, cfg.prefixlen):
            ipr.addr("add", index=index, address=cfg.host_addr, prefixlen=cfg.prefixlen)
        ipr.link("set", index=index, state="up")
    with netns.entered(cfg.netns):
        _prepare_link_sysctls(cfg.peer_if)
    with IPRoute(netns=cfg.netns, flags=0) as nipr:
        lo = nipr.link_lookup(ifname="lo")[0]
        nipr.link("set", index=lo, state="up")
        index = nipr.link_lookup(ifname=cfg.peer_if)[0]
        nipr.link("set", index=index, ifalias=cfg.alias)
        if not _has_addr(nipr, index, cfg.peer_addr, cfg.prefixlen):
            nipr.addr("add", index=index, address=cfg.peer_addr, prefixlen=cfg.prefixlen)
        nipr.link("set", index=index, state="up")
        # Multicast senders in the namespace have no default route: send all
        # of 224.0.0.0/4 out of the veth, as an exchange's feed interface would.
        nipr.route("replace", dst=MULTICAST_NET, oif=index)
    log("test host ready")


def _remove_link(ifname: str) -> None:
    with IPRoute() as ipr:
        for index in ipr.link_lookup(ifname=ifname):
            ipr.link("del", index=index)


def _remove_netns(cfg: TestbedConfig) -> None:
    with suppress(FileNotFoundError):
        pr_netns.remove(cfg.netns)
    with suppress(FileNotFoundError):
        _owner_file(cfg).unlink()


def down(cfg: TestbedConfig, log: Callable[[str], None] = lambda _m: None) -> TestbedStatus:
    """Remove what wirespeed made of this test host, and nothing else."""
    cfg.validate()
    require_privileges()
    with _locked():
        st = status(cfg)
        if st.absent:
            log("no test host to remove")
            with suppress(FileNotFoundError):
                _owner_file(cfg).unlink()  # a stale marker, its namespace gone
            return st
        _refuse_foreign(st)
        if st.host_if_exists:
            log(f"removing veth {cfg.host_if}")
            _remove_link(cfg.host_if)
        if st.netns_exists:
            log(f"removing network namespace {cfg.netns}")
            _remove_netns(cfg)
        return status(cfg)


@contextmanager
def provided(say: Callable[[str], None] | None = None) -> Iterator[TestbedConfig]:
    """The default test host for a job (demo, benchmarks): made if it is not
    up and removed again at the end; one that was already up is left as it was."""
    tb = TestbedConfig()
    made = False
    if not status(tb).complete:
        if say:
            say(f"making the test host (network namespace {tb.netns} + veth)")
        up(tb)
        made = True
    try:
        yield tb
    finally:
        if made:
            if say:
                say("removing the test host")
            down(tb)
