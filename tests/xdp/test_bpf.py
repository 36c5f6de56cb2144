"""Assembled programs run in the kernel (BPF_PROG_TEST_RUN), and a refused
program comes back with the verifier's explanation."""
from __future__ import annotations

import errno
import socket

import pytest

from wirespeed.xdp import bpf, programs
from wirespeed.xdp.ebpf import R0, R1, R2, R3, XDP_DROP, XDP_PASS, Program

pytestmark = pytest.mark.privileged


def drop_runts(min_len: int) -> Program:
    """XDP_DROP for frames shorter than min_len, else XDP_PASS: exercises
    loads from the context, ALU, a forward label and both exits."""
    p = Program("drop_runts")
    p.ldx(4, R2, R1, 0, "r2 = ctx->data")
    p.ldx(4, R3, R1, 4, "r3 = ctx->data_end")
    p.alu("-", R3, R2, "r3 = packet length")
    p.jmp("<", R3, min_len, "drop", f"if (len < {min_len}) goto drop")
    p.mov(R0, XDP_PASS, "r0 = XDP_PASS")
    p.exit()
    p.label("drop")
    p.mov(R0, XDP_DROP, "r0 = XDP_DROP")
    p.exit()
    return p


def test_xdp_pass_runs_in_kernel() -> None:
    with bpf.load_xdp(programs.xdp_pass()) as prog:
        run = bpf.test_run(prog, bytes(64), repeat=10)
    assert run.retval == XDP_PASS
    assert run.packet == bytes(64)


@pytest.mark.parametrize("length, verdict", [(14, XDP_DROP), (59, XDP_DROP), (60, XDP_PASS), (1500, XDP_PASS)])
def test_branching_program(length: int, verdict: int) -> None:
    with bpf.load_xdp(drop_runts(60)) as prog:
        assert bpf.test_run(prog, bytes(length)).retval == verdict


def test_verifier_refusal_carries_log_and_listing() -> None:
    p = Program("bad")
    p.mov(R0, R2, "r0 = r2 (never written: the verifier must refuse)")
    p.exit()
    with pytest.raises(bpf.BpfLoadError) as info:
        bpf.load_xdp(p)
    assert "R2 !read_ok" in info.value.verifier_log
    assert "never written" in info.value.listing
    assert info.value.hint


def test_attach_generic_to_loopback_and_detach_on_close() -> None:
    lo = socket.if_nametoindex("lo")
    with bpf.load_xdp(programs.xdp_pass()) as prog:
        link = bpf.XdpLink.attach(prog, lo, bpf.XdpMode.GENERIC)
        # A second link on the same interface is refused while the first lives...
        with pytest.raises(OSError) as info:
            bpf.XdpLink.attach(prog, lo, bpf.XdpMode.GENERIC).close()
        assert info.value.errno == errno.EBUSY
        assert "BPF_LINK_CREATE" in str(info.value)
        link.close()
        # ...and taken once it is closed: closing detached the program.
        bpf.XdpLink.attach(prog, lo, bpf.XdpMode.GENERIC).close()


def test_native_mode_refused_on_loopback_names_the_syscall() -> None:
    with bpf.load_xdp(programs.xdp_pass()) as prog:
        with pytest.raises(OSError) as info:
            bpf.XdpLink.attach(prog, socket.if_nametoindex("lo"), bpf.XdpMode.NATIVE)
    assert info.value.errno == errno.EOPNOTSUPP
    assert "ifindex=1" in str(info.value)
