"""The assembler, byte for byte against encodings worked out from linux/bpf.h."""
from __future__ import annotations

import pytest

from wirespeed.xdp.ebpf import R0, R1, R2, R6, XDP_DROP, XDP_PASS, AsmError, Program


def asm(build) -> bytes:
    p = Program("t")
    build(p)
    return p.assemble()


@pytest.mark.parametrize(
    "build, expected",
    [
        # BPF_ALU64|BPF_MOV|BPF_K = 0x07|0xb0|0x00 = 0xb7; dst r0; imm 2
        (lambda p: p.mov(R0, XDP_PASS), "b7 00 00 00 02 00 00 00"),
        # BPF_ALU64|BPF_MOV|BPF_X = 0xbf; dst r6 (low nibble), src r1 (high)
        (lambda p: p.mov(R6, R1), "bf 16 00 00 00 00 00 00"),
        # BPF_LDX|BPF_MEM|BPF_W = 0x61; r2 = *(u32 *)(r1 + 4)
        (lambda p: p.ldx(4, R2, R1, 4), "61 12 04 00 00 00 00 00"),
        # BPF_LDX|BPF_MEM|BPF_H = 0x69, BPF_B = 0x71, BPF_DW = 0x79
        (lambda p: p.ldx(2, R2, R1, -2), "69 12 fe ff 00 00 00 00"),
        (lambda p: p.ldx(1, R2, R1, 0), "71 12 00 00 00 00 00 00"),
        # BPF_STX|BPF_MEM|BPF_DW = 0x7b: *(u64 *)(r10 - 8) = r1
        (lambda p: p.stx(8, p_reg(10), -8, R1), "7b 1a f8 ff 00 00 00 00"),
        # BPF_STX|BPF_ATOMIC|BPF_DW = 0x03|0xc0|0x18 = 0xdb, imm BPF_ADD (0): *(u64 *)(r0 + 0) += r1
        (lambda p: p.atomic_add(8, R0, 0, R1), "db 10 00 00 00 00 00 00"),
        # BPF_ST|BPF_MEM|BPF_W = 0x62: *(u32 *)(r10 - 4) = -1
        (lambda p: p.st(4, p_reg(10), -4, -1), "62 0a fc ff ff ff ff ff"),
        # BPF_ALU64|BPF_ADD|BPF_K = 0x07
        (lambda p: p.alu("+", R2, 14), "07 02 00 00 0e 00 00 00"),
        # BPF_ALU|BPF_AND|BPF_K (32-bit) = 0x54
        (lambda p: p.alu("&", R2, 0xFFFF, wide=False), "54 02 00 00 ff ff 00 00"),
        # BPF_ALU|BPF_END|BPF_TO_BE = 0xdc, imm 16
        (lambda p: p.to_be(R2, 16), "dc 02 00 00 10 00 00 00"),
        # BPF_JMP|BPF_CALL = 0x85, helper 51 (bpf_redirect_map)
        (lambda p: p.call(51), "85 00 00 00 33 00 00 00"),
        (lambda p: p.exit(), "95 00 00 00 00 00 00 00"),
        # BPF_LD|BPF_IMM|BPF_DW = 0x18; two slots, src = BPF_PSEUDO_MAP_FD
        (lambda p: p.ld_map_fd(R1, 7), "18 11 00 00 07 00 00 00 00 00 00 00 00 00 00 00"),
        (lambda p: p.ld_imm64(R1, 0x1122334455667788),
         "18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11"),
    ],
)
def test_encoding(build, expected: str) -> None:
    assert asm(build).hex(" ") == expected


def p_reg(n: int):
    from wirespeed.xdp.ebpf import Reg

    return Reg(n)


def test_forward_and_backward_labels_resolve_to_slot_offsets() -> None:
    p = Program("t")
    p.mov(R0, XDP_PASS)  # 0
    p.label("top")
    p.jmp(">", R0, 5, "out")  # 1: offset to slot 4 -> 4 - 2 = 2
    p.ld_imm64(R2, 1)  # 2,3 (two slots count)
    p.label("out")
    p.ja("top")  # 4: offset to 1 -> 1 - 5 = -4
    p.exit()
    code = p.assemble()
    # BPF_JMP|BPF_JGT|BPF_K = 0x25
    assert code[8:16].hex(" ") == "25 00 02 00 05 00 00 00"
    assert code[32:40].hex(" ") == "05 00 fc ff 00 00 00 00"


def test_jump_with_register_operand() -> None:
    p = Program("t")
    p.label("x")
    p.jmp("==", R1, R2, "x")  # BPF_JMP|BPF_JEQ|BPF_X = 0x1d, offset -1
    assert p.assemble().hex(" ") == "1d 21 ff ff 00 00 00 00"


def test_listing_shows_labels_bytes_and_pseudocode() -> None:
    p = Program("t")
    p.mov(R0, XDP_DROP, "r0 = XDP_DROP")
    p.label("done")
    p.exit()
    text = p.listing()
    assert "done:" in text
    assert "b7 00 00 00 01 00 00 00  r0 = XDP_DROP" in text
    assert "return r0" in text


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda p: p.ja("nowhere"), "undefined label 'nowhere'"),
        (lambda p: (p.label("a"), p.label("a")), "defined twice"),
        (lambda p: p.mov(R0, 1 << 33), "does not fit 32 bits"),
        (lambda p: p.alu("**", R0, 1), "unknown ALU op"),
        (lambda p: p.jmp("=~", R0, 1, "x"), "unknown jump op"),
        (lambda p: p.to_be(R0, 24), "16, 32 or 64"),
        (lambda p: None, "is empty"),
    ],
)
def test_errors_name_the_problem(build, message: str) -> None:
    p = Program("t")
    with pytest.raises(AsmError, match=message):
        build(p)
        p.assemble()


def test_jump_offset_out_of_range() -> None:
    p = Program("t")
    p.ja("far")
    for _ in range(1 << 15):
        p.mov(R0, 0)
    p.label("far")
    p.exit()
    with pytest.raises(AsmError, match="16 bits"):
        p.assemble()
