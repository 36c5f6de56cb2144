"""The XDP programs wirespeed generates (see ebpf.py for the assembler)."""
from __future__ import annotations

from wirespeed.xdp.ebpf import R0, XDP_PASS, Program


def xdp_pass() -> Program:
    """return XDP_PASS: the smallest XDP program; `doctor` attaches it to
    learn whether an interface takes native XDP, without changing traffic."""
    prog = Program("ws_xdp_pass")
    prog.mov(R0, XDP_PASS, "r0 = XDP_PASS")
    prog.exit()
    return prog
