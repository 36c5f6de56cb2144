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
    ],
)
def test_every_command_has_help(args, expect) -> None:
    proc = run_cli(*args, "--help", check_rc=0)
    assert expect in proc.stdout


def test_version() -> None:
    from wirespeed import __version__

    assert run_cli("--version", check_rc=0).stdout.strip() == f"wirespeed {__version__}"


@pytest.mark.parametrize("args", [("nosuchcommand",), ("doctor", "--bogus"), ("testbed", "sideways")])
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
