"""Helpers shared by the ring tests: payloads that are a function of their
seq, so any torn or misplaced record is caught by comparing bytes."""
from __future__ import annotations

import hashlib


def payload(seq: int, size: int) -> bytes:
    seed = hashlib.blake2b(seq.to_bytes(8, "little"), digest_size=32).digest()
    return (seed * (size // 32 + 1))[:size]


def check_batch(batch, sizes: dict[int, int] | None = None) -> None:
    """Every record in the batch carries exactly the bytes written for its seq."""
    for h, data in batch:
        seq = int(h["seq"])
        n = int(h["len"])
        if sizes is not None:
            assert n == sizes[seq], f"seq {seq}: len {n} != {sizes[seq]}"
        assert bytes(data) == payload(seq, n), f"seq {seq}: torn or misplaced payload"
