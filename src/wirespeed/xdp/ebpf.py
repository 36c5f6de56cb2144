"""A small eBPF assembler: wirespeed writes its XDP programs as instructions.

Why not clang: wirespeed must build and run on a host with no LLVM, and the
programs it needs are a few dozen instructions. Writing them here keeps every
instruction visible and reviewable, each with a pseudocode comment.

Layout of one instruction (linux/bpf.h, struct bpf_insn), host byte order:

    u8 code | u8 dst:4 src:4 (dst in the low nibble) | s16 off | s32 imm

`ld_imm64` (and its map-fd form) takes two 8-byte slots. Jump offsets count
slots from the instruction after the jump; they are written with labels here
and resolved in a second pass, never counted by hand.

    prog = Program("xdp_pass")
    prog.mov(R0, XDP_PASS, "r0 = XDP_PASS")
    prog.exit()
    prog.assemble()  # -> bytes for bpf(BPF_PROG_LOAD)
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum


class Reg(IntEnum):
    R0 = 0  # return value, helper results
    R1 = 1  # first argument; on entry, the context (struct xdp_md *)
    R2 = 2
    R3 = 3
    R4 = 4
    R5 = 5
    R6 = 6  # r6..r9: callee-saved across helper calls
    R7 = 7
    R8 = 8
    R9 = 9
    R10 = 10  # frame pointer, read-only


R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = tuple(Reg)

# Instruction classes, sizes, modes, sources (linux/bpf_common.h, linux/bpf.h).
_LD, _LDX, _ST, _STX, _ALU, _JMP, _JMP32, _ALU64 = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07
_IMM, _MEM, _ATOMIC = 0x00, 0x60, 0xC0
_K, _X = 0x00, 0x08
SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}  # bytes -> BPF_B, BPF_H, BPF_W, BPF_DW
_PSEUDO_MAP_FD = 1

ALU_OPS = {
    "+": 0x00, "-": 0x10, "*": 0x20, "/": 0x30, "|": 0x40, "&": 0x50,
    "<<": 0x60, ">>": 0x70, "%": 0x90, "^": 0xA0, "=": 0xB0, "s>>": 0xC0,
}
_END = 0xD0
JMP_OPS = {
    "==": 0x10, ">": 0x20, ">=": 0x30, "&": 0x40, "!=": 0x50, "s>": 0x60,
    "s>=": 0x70, "<": 0xA0, "<=": 0xB0, "s<": 0xC0, "s<=": 0xD0,
}
_JA, _CALL, _EXIT = 0x00, 0x80, 0x90

# XDP return codes (enum xdp_action).
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT = 0, 1, 2, 3, 4


class AsmError(ValueError):
    """A program that cannot be assembled (bad label, operand out of range)."""


@dataclass(frozen=True)
class Insn:
    """One instruction slot; `target` names a label still to be resolved."""

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0
    comment: str = ""
    target: str | None = None

    def encode(self, off: int | None = None) -> bytes:
        o = self.off if off is None else off
        if not -(1 << 15) <= o < (1 << 15):
            raise AsmError(f"jump offset {o} does not fit 16 bits ({self.comment})")
        if not -(1 << 31) <= self.imm < (1 << 32):
            raise AsmError(f"immediate {self.imm} does not fit 32 bits ({self.comment})")
        imm = self.imm - (1 << 32) if self.imm >= (1 << 31) else self.imm
        return struct.pack("<BBhi", self.code, (self.src << 4) | self.dst, o, imm)


class Program:
    """An eBPF program under construction: instructions plus labels."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._insns: list[Insn] = []
        self._labels: dict[str, int] = {}

    # -- structure -----------------------------------------------------------
    def label(self, name: str) -> None:
        """Mark the next instruction as jump target `name`."""
        if name in self._labels:
            raise AsmError(f"label {name!r} defined twice in {self.name}")
        self._labels[name] = len(self._insns)

    def _emit(self, insn: Insn) -> None:
        self._insns.append(insn)

    # -- ALU -----------------------------------------------------------------
    def alu(self, op: str, dst: Reg, src: Reg | int, comment: str = "", *, wide: bool = True) -> None:
        """dst op= src, 64-bit (wide) or 32-bit (upper half zeroed)."""
        if op not in ALU_OPS:
            raise AsmError(f"unknown ALU op {op!r}")
        cls = _ALU64 if wide else _ALU
        if isinstance(src, Reg):
            self._emit(Insn(cls | ALU_OPS[op] | _X, dst, src, comment=comment))
        else:
            self._emit(Insn(cls | ALU_OPS[op] | _K, dst, 0, imm=src, comment=comment))

    def mov(self, dst: Reg, src: Reg | int, comment: str = "") -> None:
        self.alu("=", dst, src, comment)

    def to_be(self, dst: Reg, bits: int, comment: str = "") -> None:
        """dst = htobe<bits>(dst): network order to host order on little-endian."""
        if bits not in (16, 32, 64):
            raise AsmError(f"byte swap width must be 16, 32 or 64, not {bits}")
        self._emit(Insn(_ALU | _END | _X, dst, 0, imm=bits, comment=comment))

    # -- memory --------------------------------------------------------------
    def ldx(self, size: int, dst: Reg, src: Reg, off: int, comment: str = "") -> None:
        """dst = *(u<size*8> *)(src + off)"""
        self._emit(Insn(_LDX | _MEM | SIZES[size], dst, src, off=off, comment=comment))

    def stx(self, size: int, dst: Reg, off: int, src: Reg, comment: str = "") -> None:
        """*(u<size*8> *)(dst + off) = src"""
        self._emit(Insn(_STX | _MEM | SIZES[size], dst, src, off=off, comment=comment))

    def st(self, size: int, dst: Reg, off: int, imm: int, comment: str = "") -> None:
        """*(u<size*8> *)(dst + off) = imm"""
        self._emit(Insn(_ST | _MEM | SIZES[size], dst, 0, off=off, imm=imm, comment=comment))

    def atomic_add(self, size: int, dst: Reg, off: int, src: Reg, comment: str = "") -> None:
        """*(u<size*8> *)(dst + off) += src, atomically (BPF_ATOMIC, BPF_ADD: size 4 or 8)."""
        if size not in (4, 8):
            raise AsmError("atomic add is 4 or 8 bytes")
        self._emit(Insn(_STX | _ATOMIC | SIZES[size], dst, src, off=off, imm=0, comment=comment))

    def ld_imm64(self, dst: Reg, value: int, comment: str = "") -> None:
        """dst = value (64-bit constant, two slots)."""
        lo, hi = value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF
        self._emit(Insn(_LD | _IMM | SIZES[8], dst, 0, imm=lo, comment=comment))
        self._emit(Insn(0, 0, 0, imm=hi, comment="  (upper half)"))

    def ld_map_fd(self, dst: Reg, map_fd: int, comment: str = "") -> None:
        """dst = &map (the loader rewrites the fd into a map pointer)."""
        self._emit(Insn(_LD | _IMM | SIZES[8], dst, _PSEUDO_MAP_FD, imm=map_fd, comment=comment))
        self._emit(Insn(0, 0, 0, imm=0, comment="  (upper half)"))

    # -- control flow --------------------------------------------------------
    def jmp(self, op: str, dst: Reg, src: Reg | int, target: str, comment: str = "") -> None:
        """if (dst op src) goto target"""
        if op not in JMP_OPS:
            raise AsmError(f"unknown jump op {op!r}")
        if isinstance(src, Reg):
            self._emit(Insn(_JMP | JMP_OPS[op] | _X, dst, src, comment=comment, target=target))
        else:
            self._emit(Insn(_JMP | JMP_OPS[op] | _K, dst, 0, imm=src, comment=comment, target=target))

    def ja(self, target: str, comment: str = "") -> None:
        """goto target"""
        self._emit(Insn(_JMP | _JA, comment=comment, target=target))

    def call(self, helper: int, comment: str = "") -> None:
        """r0 = helper(r1..r5); r1..r5 are clobbered."""
        self._emit(Insn(_JMP | _CALL, imm=helper, comment=comment))

    def exit(self, comment: str = "return r0") -> None:
        self._emit(Insn(_JMP | _EXIT, comment=comment))

    # -- output --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._insns)

    def _resolved(self) -> list[tuple[Insn, int]]:
        out = []
        for idx, insn in enumerate(self._insns):
            if insn.target is None:
                out.append((insn, insn.off))
                continue
            if insn.target not in self._labels:
                raise AsmError(f"jump to undefined label {insn.target!r} in {self.name}")
            out.append((insn, self._labels[insn.target] - (idx + 1)))
        return out

    def assemble(self) -> bytes:
        """The program as bytes for bpf(BPF_PROG_LOAD); labels resolved."""
        if not self._insns:
            raise AsmError(f"program {self.name} is empty")
        return b"".join(insn.encode(off) for insn, off in self._resolved())

    def listing(self) -> str:
        """One line per slot: index, labels, hex bytes, pseudocode comment."""
        names: dict[int, list[str]] = {}
        for name, idx in self._labels.items():
            names.setdefault(idx, []).append(name)
        lines = []
        for idx, (insn, off) in enumerate(self._resolved()):
            for name in names.get(idx, []):
                lines.append(f"{name}:")
            jump = f" -> {insn.target}" if insn.target else ""
            lines.append(f"  {idx:4d}  {insn.encode(off).hex(' ')}  {insn.comment}{jump}")
        return "\n".join(lines)
