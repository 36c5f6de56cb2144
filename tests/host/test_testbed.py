"""The test host: made, proven to carry multicast and unicast, repaired,
refused when a name belongs to someone else, and removed without a trace."""
from __future__ import annotations

import fcntl
import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from wirespeed.host import testbed
from wirespeed.errors import PrivilegeError, UsageError, WirespeedError
from wirespeed.system import netns
from wirespeed.host.testbed import TestbedConfig


def cfg(tag: str, n: int) -> TestbedConfig:
    return TestbedConfig(netns=f"ws-t-{tag}", host_if=f"wst{tag}h", peer_if=f"wst{tag}p", subnet=f"198.18.{n}.0/24")


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


# -- no privilege needed ---------------------------------------------------------

@pytest.mark.parametrize(
    "kw, message",
    [
        ({"host_if": "x" * 16}, "16 characters; the kernel allows 15"),
        ({"peer_if": "bad name"}, "invalid interface name"),
        ({"netns": "a/b"}, "invalid network namespace name"),
        ({"subnet": "8.8.8.0/24"}, "not a private or reserved range"),
        ({"subnet": "198.18.0.0/31"}, "too small"),
        ({"subnet": "198.18.0.1/24"}, "invalid subnet"),
        ({"host_if": "same0", "peer_if": "same0"}, "must differ"),
    ],
)
def test_bad_config_refused_before_anything_is_made(kw, message) -> None:
    with pytest.raises(UsageError, match=message):
        TestbedConfig(**kw).validate()


def test_addresses_come_from_the_subnet() -> None:
    c = TestbedConfig(subnet="10.77.0.0/30")
    assert (c.host_addr, c.peer_addr, c.prefixlen) == ("10.77.0.1", "10.77.0.2", 30)


# -- privileged ------------------------------------------------------------------

pytestmark_priv = pytest.mark.privileged


@pytest.mark.privileged
def test_multicast_and_unicast_cross_the_test_host(testbed_cfg) -> None:
    c = testbed_cfg
    group, port = "239.7.7.7", 31337
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    rx.bind((group, port))
    rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton(c.host_addr))
    rx.settimeout(2)
    uni = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uni.bind((c.host_addr, 0))
    uni.settimeout(2)
    with netns.entered(c.netns):  # the sender lives on the exchange side
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.bind((c.peer_addr, 0))
        tx.settimeout(2)
    try:
        tx.sendto(b"market data", (group, port))
        data, src = rx.recvfrom(100)
        assert (data, src[0]) == (b"market data", c.peer_addr)
        tx.sendto(b"unicast", uni.getsockname())
        assert uni.recvfrom(100) == (b"unicast", tx.getsockname())
        uni.sendto(b"re-request", tx.getsockname())  # host -> exchange, as a gap request goes
        assert tx.recvfrom(100)[0] == b"re-request"
    finally:
        for s in (rx, uni, tx):
            s.close()


@pytest.mark.privileged
def test_links_are_quiet_and_marked(testbed_cfg) -> None:
    c = testbed_cfg
    assert Path(f"/proc/sys/net/ipv6/conf/{c.host_if}/disable_ipv6").read_text().strip() == "1"
    assert Path(f"/proc/sys/net/ipv4/conf/{c.host_if}/rp_filter").read_text().strip() == "0"
    assert Path(f"/sys/class/net/{c.host_if}/ifalias").read_text().strip() == c.alias
    with netns.entered(c.netns):
        assert Path(f"/proc/sys/net/ipv6/conf/{c.peer_if}/disable_ipv6").read_text().strip() == "1"


@pytest.mark.privileged
def test_up_is_idempotent_and_down_removes_everything() -> None:
    c = cfg("a", 201)
    try:
        first = testbed.up(c)
        assert first.complete
        again = testbed.up(c)
        assert again.complete and again.host_ifindex == first.host_ifindex  # nothing remade
        st = run_cli("testbed", "status", "--json", "--netns", c.netns, "--host-if", c.host_if,
                     "--peer-if", c.peer_if, "--subnet", c.subnet, check_rc=0)
        assert '"state": "up"' in st.stdout
    finally:
        gone = testbed.down(c)
    assert gone.absent
    assert not netns.exists(c.netns) and not link_exists(c.host_if)
    assert not (testbed.STATE_DIR / "netns" / c.netns).exists()
    assert testbed.down(c).absent  # idempotent too
    st = run_cli("testbed", "status", "--netns", c.netns, "--host-if", c.host_if, "--subnet", c.subnet)
    assert st.returncode == 1 and "absent" in st.stdout


@pytest.mark.privileged
def test_partial_test_host_is_completed() -> None:
    c = cfg("b", 202)
    try:
        testbed.up(c)
        subprocess.run(["ip", "-n", c.netns, "route", "del", "224.0.0.0/4"], check=True)
        subprocess.run(["ip", "link", "set", c.host_if, "down"], check=True)
        st = testbed.status(c)
        assert not st.complete and not st.multicast_route and not st.host_if_up
        assert st.as_dict()["state"] == "partial"
        assert testbed.up(c).complete
    finally:
        testbed.down(c)


@pytest.mark.privileged
def test_foreign_namespace_is_never_adopted_or_removed() -> None:
    c = cfg("c", 203)
    subprocess.run(["ip", "netns", "add", c.netns], check=True)
    try:
        with pytest.raises(UsageError, match="not made by wirespeed"):
            testbed.up(c)
        with pytest.raises(UsageError, match="leaving it alone"):
            testbed.down(c)
        assert netns.exists(c.netns)
        assert not link_exists(c.host_if)
        proc = run_cli("testbed", "up", "--netns", c.netns, "--host-if", c.host_if, "--subnet", c.subnet)
        assert proc.returncode == 2
        assert proc.stderr.startswith("error: network namespace") and "Traceback" not in proc.stderr
    finally:
        subprocess.run(["ip", "netns", "del", c.netns], check=True)


@pytest.mark.privileged
def test_foreign_link_is_refused_and_nothing_is_left_behind() -> None:
    c = cfg("d", 204)
    subprocess.run(["ip", "link", "add", c.host_if, "type", "veth", "peer", "wstdx"], check=True)
    try:
        with pytest.raises(UsageError, match="was not made by wirespeed"):
            testbed.up(c)
        assert not netns.exists(c.netns)
        with pytest.raises(UsageError):
            testbed.down(c)
        assert link_exists(c.host_if)
    finally:
        subprocess.run(["ip", "link", "del", c.host_if], check=True)


@pytest.mark.privileged
def test_failure_midway_rolls_back(monkeypatch) -> None:
    c = cfg("e", 205)
    monkeypatch.setattr(testbed, "MULTICAST_NET", "224.0.0.1/4")  # the route step is refused by the kernel
    with pytest.raises(WirespeedError, match="nothing was left behind"):
        testbed.up(c)
    assert not netns.exists(c.netns)
    assert not link_exists(c.host_if)
    assert not (testbed.STATE_DIR / "netns" / c.netns).exists()


@pytest.mark.privileged
def test_two_at_once_get_a_clear_error(monkeypatch) -> None:
    c = cfg("f", 206)
    testbed.STATE_DIR.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(testbed, "LOCK_WAIT_S", 0.2)
    fd = os.open(testbed.STATE_DIR / "testbed.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(WirespeedError, match="another wirespeed testbed command is running"):
            testbed.up(c)
    finally:
        os.close(fd)
    assert not netns.exists(c.netns)


@pytest.mark.privileged
def test_without_privilege_a_one_line_error(testbed_cfg) -> None:
    proc = run_cli("testbed", "up", user="nobody")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        "error: the test host needs CAP_NET_ADMIN and CAP_SYS_ADMIN (network namespaces, veth)")
    assert "Traceback" not in proc.stderr
    # status needs no privilege to run, and says what it could not see
    proc = run_cli("testbed", "status", "--json", "--netns", testbed_cfg.netns, "--host-if", testbed_cfg.host_if,
                   "--peer-if", testbed_cfg.peer_if, "--subnet", testbed_cfg.subnet, user="nobody")
    assert proc.returncode == 1 and '"state": "unknown"' in proc.stdout and "run as root" in proc.stdout


def test_privilege_error_without_root(monkeypatch) -> None:
    monkeypatch.setattr(testbed.caps, "effective", lambda fs: set())
    with pytest.raises(PrivilegeError, match="CAP_NET_ADMIN and CAP_SYS_ADMIN"):
        testbed.up(cfg("g", 207))
