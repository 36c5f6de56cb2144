"""Loading and attaching eBPF programs through bpf(), without libbpf.

Ownership: a `LoadedProgram` owns its program fd and an `XdpLink` its link fd;
both close on `close()` or when used as context managers. Closing the link
detaches the program; the kernel also detaches it if the process dies, so an
interface is never left with wirespeed's program after a crash.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from enum import Enum

from wirespeed import _native
from wirespeed.errors import WirespeedError
from wirespeed.xdp.ebpf import Program

BPF_PROG_TYPE_XDP = 6
BPF_XDP = 37  # enum bpf_attach_type: attach type of XDP programs used through links
XDP_FLAGS_SKB_MODE = 1 << 1
XDP_FLAGS_DRV_MODE = 1 << 2


class XdpMode(str, Enum):
    """Where the kernel runs an XDP program."""

    NATIVE = "native"  # in the driver, before an skb exists
    GENERIC = "generic"  # after the skb is built: works everywhere, slower
    AUTO = "auto"  # the kernel's choice: native when the driver has it

    @property
    def flags(self) -> int:
        return {self.NATIVE: XDP_FLAGS_DRV_MODE, self.GENERIC: XDP_FLAGS_SKB_MODE, self.AUTO: 0}[self]


class BpfLoadError(WirespeedError):
    """The kernel refused a program; `verifier_log` says why."""

    def __init__(self, message: str, hint: str | None, verifier_log: str, listing: str) -> None:
        super().__init__(message, hint)
        self.verifier_log = verifier_log
        self.listing = listing


def _errno_hint(err: int | None) -> str | None:
    import errno

    return {
        errno.EPERM: "needs CAP_BPF and CAP_NET_ADMIN (or root)",
        errno.EACCES: "the verifier rejected the program; see its log",
        errno.EINVAL: "the kernel did not accept these arguments; see the verifier log",
        errno.ENOSYS: "this kernel has no bpf() system call (CONFIG_BPF_SYSCALL)",
    }.get(err or 0)


class LoadedProgram:
    """An eBPF program in the kernel, alive while `fd` is open."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> LoadedProgram:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_xdp(program: Program) -> LoadedProgram:
    """Load an XDP program; on refusal raise BpfLoadError with the verifier's
    log (asked for on a second try, since asking costs on every load)."""
    insns = program.assemble()
    try:
        fd = _native.bpf_prog_load(BPF_PROG_TYPE_XDP, insns, "GPL", BPF_XDP)
    except OSError:
        try:
            fd = _native.bpf_prog_load(BPF_PROG_TYPE_XDP, insns, "GPL", BPF_XDP, 1)
        except OSError as exc:
            log = getattr(exc, "verifier_log", "") or ""
            raise BpfLoadError(
                f"could not load XDP program {program.name}: {exc.strerror}",
                _errno_hint(exc.errno),
                log,
                program.listing(),
            ) from exc
    return LoadedProgram(fd, program.name)


@dataclass(frozen=True)
class TestRun:
    retval: int
    packet: bytes
    duration_ns: int


def test_run(prog: LoadedProgram, packet: bytes, repeat: int = 1) -> TestRun:
    """Run `prog` in the kernel on `packet` (BPF_PROG_TEST_RUN)."""
    retval, out, duration = _native.bpf_prog_test_run(prog.fd, packet, repeat)
    return TestRun(retval, out, duration)


test_run.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


class XdpLink:
    """An XDP program attached to an interface through a bpf_link."""

    def __init__(self, fd: int, ifindex: int, mode: XdpMode) -> None:
        self.fd = fd
        self.ifindex = ifindex
        self.mode = mode

    @classmethod
    def attach(cls, prog: LoadedProgram, ifindex: int, mode: XdpMode = XdpMode.AUTO) -> XdpLink:
        """Attach; raises OSError (EOPNOTSUPP: the driver lacks this mode,
        EBUSY: another XDP program holds the interface)."""
        return cls(_native.bpf_xdp_link_create(prog.fd, ifindex, mode.flags), ifindex, mode)

    @classmethod
    def attach_best(cls, prog: LoadedProgram, ifindex: int, xdp_mode: str) -> XdpLink:
        """Attach as `xdp_mode` asks: "native", "generic", or "auto" (native where the
        driver has it, else generic). Raises the last OSError (EBUSY: another XDP
        program holds the interface) if none took."""
        tries = {"auto": (XdpMode.NATIVE, XdpMode.GENERIC), "native": (XdpMode.NATIVE,),
                 "generic": (XdpMode.GENERIC,)}[xdp_mode]
        for i, mode in enumerate(tries):
            try:
                return cls.attach(prog, ifindex, mode)
            except OSError as exc:
                if i == len(tries) - 1 or exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Detach (closing the last reference to the link)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> XdpLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
