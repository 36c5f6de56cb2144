"""Shared test set-up.

Privileged tests (netns, veth, XDP, bpf()) carry @pytest.mark.privileged.
Without root they skip and say so; in CI (CI=true, and CI runs as root) or
with WIRESPEED_REQUIRE_PRIVILEGED=1 a privileged test that cannot run fails
instead, so CI never goes green by skipping them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from wirespeed.capture.runner import CaptureConfig

REPO = Path(__file__).resolve().parent.parent


def _is_root() -> bool:
    return os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _is_root():
        return
    require = os.environ.get("WIRESPEED_REQUIRE_PRIVILEGED") == "1" or os.environ.get("CI") == "true"
    for item in items:
        if "privileged" in item.keywords:
            if require:
                item.add_marker(pytest.mark.usefixtures("_fail_unprivileged"))
            else:
                item.add_marker(pytest.mark.skip(reason="needs root (netns, veth, XDP, bpf()): run as root or in CI"))


@pytest.fixture
def _fail_unprivileged() -> None:
    pytest.fail("privileged test run without root where privilege is required (CI)")


@pytest.fixture
def ring_path() -> str:
    """A ring file's path in /dev/shm for one test, removed after it."""
    path = Path(f"/dev/shm/ws-test-ring-{os.getpid()}")
    yield str(path)
    path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def alloc_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The malloc counter of tests/alloc.py, built once, for LD_PRELOAD."""
    from tests import alloc

    return alloc.build(tmp_path_factory.mktemp("alloc"))


@pytest.fixture(scope="session")
def testbed_cfg():
    """A test host of its own (names unlike the default, so a developer's
    `wirespeed testbed up` is never touched), made once per session."""
    from wirespeed.host import testbed

    cfg = testbed.TestbedConfig(netns="ws-pytest", host_if="wsp-host0", peer_if="wsp-exch0", subnet="198.18.200.0/24")
    testbed.up(cfg)
    yield cfg
    testbed.down(cfg)


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait for cond() rather than sleep a guess (a loaded CI machine is slow);
    fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def run_cli(*args: str, user: str | None = None, check_rc: int | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed `wirespeed` command; `user="nobody"` drops every
    privilege first (setpriv), as an unprivileged user would run it."""
    cmd = [sys.executable, "-m", "wirespeed", *args]
    if user:
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", *cmd]
    # PYTHONFAULTHANDLER: a command that hangs is aborted with every thread's stack on stderr
    env = dict(os.environ, COLUMNS="200", PYTHONPATH=str(REPO / "src"), PYTHONFAULTHANDLER="1")
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as p:
        try:
            out, errs = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGABRT)
            out, errs = p.communicate(timeout=30)
            raise AssertionError(f"`wirespeed {' '.join(args)}` still running after {timeout:.0f} s; "
                                 f"its stacks:\n{errs[-6000:]}") from None
    proc = subprocess.CompletedProcess(cmd, p.returncode, out, errs)
    if check_rc is not None:
        assert proc.returncode == check_rc, f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def capture_while(cfg: CaptureConfig, send: Callable[[], Any]) -> dict[str, Any]:
    """Capture while send() runs: run()'s result, with send()'s as "sent". The
    capture receives before send() starts (Background waits until the
    transport is open) and stops once the ring has been still for 0.5 s, so
    a receive thread that a busy machine held back still takes everything."""
    from wirespeed.capture.runner import Background
    from wirespeed.ring import RingReader

    with Background(cfg) as c:
        sent = send()
        with RingReader(cfg.ring) as r:
            head, still_since = r.head_seq, time.monotonic()
            deadline = still_since + 15
            while time.monotonic() - still_since < 0.5 and time.monotonic() < deadline:
                time.sleep(0.05)
                if r.head_seq != head:
                    head, still_since = r.head_seq, time.monotonic()
    return dict(c.result, sent=sent)
