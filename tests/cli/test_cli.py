"""The command line as a user meets it: help that teaches, usage errors at
exit 2, JSON that parses, no tracebacks."""
from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize(
    "args, expect",
    [
        ((), "doctor"),
        (("doctor",), "--iface"),
        (("testbed",), "network namespace"),
        (("testbed", "up"), "--subnet"),
        (("testbed", "down"), "nothing else"),
        (("testbed", "status"), "Exit 0 if it is complete"),
        (("ring",), "one writer"),
        (("ring", "create"), "--size"),
        (("ring", "info"), "dead"),
        (("ring", "tail"), "--from"),
        (("bench",), "ratio"),
        (("bench", "ring"), "--quick"),
        (("bench", "sim"), "trafgen"),
        (("bench", "exchange"), "sockperf"),
        (("sim",), "MoldUDP64"),
        (("sim",), "--ouch-port"),
        (("capture",), "--feed"),
        (("record",), "pcapng"),
        (("demo",), "one-way latency"),
    ],
)
def test_every_command_has_help(args, expect) -> None:
    proc = run_cli(*args, "--help", check_rc=0)
    assert expect in proc.stdout


def test_version() -> None:
    from wirespeed import __version__

    assert run_cli("--version", check_rc=0).stdout.strip() == f"wirespeed {__version__}"


@pytest.mark.parametrize("args", [
    ("nosuchcommand",), ("doctor", "--bogus"), ("testbed", "sideways"),
    ("sim", "--ouch-account", "A:B"),                                  # an account with no order port
    ("sim", "--ouch-port", "15000", "--ouch-account", "NOCOLON"),
    ("sim", "--ouch-port", "15000", "--ouch-account", "TOOLONGUSER:X"),
    ("sim", "--ouch-port", "15000", "--ouch-risk", "max-speed=3"),
    ("sim", "--ouch-port", "15000", "--ouch-risk", "max-qty=lots"),
    ("sim", "--ouch-port", "70000"),
])
def test_usage_errors_exit_2(args) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_unknown_interface_exit_2_one_line() -> None:
    proc = run_cli("doctor", "--iface", "wsnosuch7", "--no-try")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "error: no interface named 'wsnosuch7' in this network namespace",
        "hint: list them with: ip -br link",
    ]


def test_doctor_json_is_one_document() -> None:
    proc = run_cli("doctor", "--json", "--no-try")
    doc = json.loads(proc.stdout)
    assert proc.returncode == (0 if doc["ok"] else 1)
    assert doc["summary"]["pass"] > 0


def test_ring_create_info_tail(tmp_path) -> None:
    import os
    from pathlib import Path

    from wirespeed.ring import RingWriter

    path = Path("/dev/shm") / f"ws-cli-{os.getpid()}"
    try:
        doc = json.loads(run_cli("ring", "create", str(path), "--size", "1M", "--json", check_rc=0).stdout)
        assert doc["payload_sz"] == 1 << 20 and doc["mode"] == "0640"
        assert run_cli("ring", "create", str(path)).returncode == 2  # exists
        info = json.loads(run_cli("ring", "info", str(path), "--json", check_rc=0).stdout)
        assert info["writer"] == "never" and info["records_published"] == 0
        with RingWriter(path) as w:
            for i in range(5):
                w.append(f"rec {i}".encode(), stream=4)
        lines = run_cli("ring", "tail", str(path), "--from", "2", "--json", check_rc=0).stdout.splitlines()
        recs = [json.loads(line) for line in lines]
        assert [r["seq"] for r in recs] == [2, 3, 4, 5]
        assert bytes.fromhex(recs[0]["payload_hex"]) == b"rec 1" and recs[0]["stream"] == 4
        head = run_cli("ring", "tail", str(path), "--from", "oldest", "--count", "2", check_rc=0).stdout
        assert len(head.splitlines()) == 2
        info = json.loads(run_cli("ring", "info", str(path), "--json", check_rc=0).stdout)
        assert info["writer"] == "closed" and info["records_published"] == 5
        assert run_cli("ring", "create", str(path) + "x", "--mode", "9z").returncode == 2
    finally:
        for p in (path, Path(str(path) + "x")):
            p.unlink(missing_ok=True)


def test_sigterm_stops_the_command_but_never_unwinds_a_forked_child() -> None:
    """A child forked from a command (pyroute2 forks one to make a namespace) must not run the
    command's clean-ups when it is sent SIGTERM: once it unwound through `testbed up`'s
    rollback and removed the namespace it had just made."""
    import subprocess
    import sys

    code = (
        "import os, signal, time\n"
        "from wirespeed.cli import stop_on_sigterm\n"
        "stop_on_sigterm()\n"
        "try:\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            time.sleep(30)\n"
        "        finally:\n"
        "            print('child unwound', flush=True)\n"
        "        os._exit(0)\n"
        "    time.sleep(0.3)\n"
        "    os.kill(pid, signal.SIGTERM)\n"
        "    _, st = os.waitpid(pid, 0)\n"
        "    print('child signal', os.WTERMSIG(st) if os.WIFSIGNALED(st) else None, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(5)\n"
        "except KeyboardInterrupt:\n"
        "    print('parent stopped', flush=True)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert r.stdout.splitlines() == ["child signal 15", "parent stopped"], r.stdout + r.stderr
