"""The C book engine against the pure-Python reference, message by message,
on the simulator's order flow damaged the ways a line damages it (drops,
duplicates, reordering) and the ways bad input does (truncation, corrupt
bytes), plus the named impossible messages of the issue."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirespeed import _native
from wirespeed.exchange import sim
from wirespeed.book.reference import ReferenceBooks


def _messages(day: bytes) -> list[bytes]:
    out, off = [], 0
    while off + 2 <= len(day):
        n = int.from_bytes(day[off:off + 2], "big")
        out.append(day[off + 2:off + 2 + n])
        off += 2 + n
    return out


def _frame(msgs: list[bytes]) -> bytes:
    return b"".join(len(m).to_bytes(2, "big") + m for m in msgs)


def _same_book(eng: _native.BookEngine, ref: ReferenceBooks, locate: int) -> None:
    for side in (0, 1):
        assert eng.depth(locate, side, 1 << 16) == ref.depth(locate, side, 1 << 16), (locate, side)
        for level in range(eng.levels(locate, side)):
            assert eng.orders(locate, side, level) == ref.orders_at(locate, side, level), (locate, side, level)


def _stats(eng: _native.BookEngine) -> dict[str, int]:
    return {k: v for k, v in eng.stats().items() if v and k != "live_orders"}


def _damage(msgs: list[bytes], rng: random.Random, drop: float, dup: float, swap: float, corrupt: float) -> list[bytes]:
    out: list[bytes] = []
    for m in msgs:
        r = rng.random()
        if r < drop:
            continue
        if r < drop + corrupt:
            kind = rng.randrange(3)
            if kind == 0:
                m = m[:rng.randrange(len(m))]                       # truncated
            elif kind == 1:
                b = bytearray(m)
                b[rng.randrange(len(b))] = rng.randrange(256)      # a flipped byte anywhere
                m = bytes(b)
            else:
                m = bytes([rng.choice(b"Zz?AEUXD")]) + m[1:]       # a wrong or unknown type
        out.append(m)
        if rng.random() < dup:
            out.append(m)
        if len(out) > 1 and rng.random() < swap:
            out[-1], out[-2] = out[-2], out[-1]
    return out


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(1, 10_000), symbols=st.integers(1, 12), drop=st.sampled_from([0, 0.01, 0.1]),
       dup=st.sampled_from([0, 0.02]), swap=st.sampled_from([0, 0.05]), corrupt=st.sampled_from([0, 0.01, 0.05]))
def test_engine_equals_reference_after_every_message(seed: int, symbols: int, drop: float, dup: float, swap: float,
                                                     corrupt: float) -> None:
    msgs = _damage(_messages(sim.itch_day(1500, symbols=symbols, seed=seed)), random.Random(seed), drop, dup, swap,
                   corrupt)
    eng, ref = _native.BookEngine(max_locate=64, max_orders=1 << 14, max_levels=1 << 12), ReferenceBooks(max_locate=64)
    for i, m in enumerate(msgs):
        assert eng.apply(m) == ref.apply(m), (i, m.hex())
        if len(m) >= 3:
            loc = int.from_bytes(m[1:3], "big")
            if 1 <= loc <= 64:
                _same_book(eng, ref, loc)
    for loc in range(1, 65):
        _same_book(eng, ref, loc)
    assert _stats(eng) == {k: v for k, v in ref.stats.items() if v}
    assert eng.stats()["live_orders"] == len(ref.orders)


def test_day_file_equals_one_by_one() -> None:
    day = sim.itch_day(20_000, symbols=20, seed=7)
    a, b = _native.BookEngine(), _native.BookEngine()
    assert a.apply_day(day) == len(_messages(day))
    for m in _messages(day):
        b.apply(m)
    assert a.stats() == b.stats() and a.stats()["unknown_ref"] == 0 and a.stats()["applied"] > 10_000
    for loc in range(1, 21):
        assert a.depth(loc, 0, 100) == b.depth(loc, 0, 100) and a.depth(loc, 1, 100) == b.depth(loc, 1, 100)
        assert a.symbol(loc).strip()


def _add(ref: int, locate: int = 1, side: bytes = b"B", shares: int = 100, price: int = 10_000) -> bytes:
    return (b"A" + locate.to_bytes(2, "big") + bytes(8) + ref.to_bytes(8, "big") + side + shares.to_bytes(4, "big")
            + b"TEST    " + price.to_bytes(4, "big"))


def _exec(ref: int, shares: int, locate: int = 1) -> bytes:
    return b"E" + locate.to_bytes(2, "big") + bytes(8) + ref.to_bytes(8, "big") + shares.to_bytes(4, "big") + bytes(8)


def _replace(ref: int, new: int, shares: int = 50, price: int = 10_100, locate: int = 1) -> bytes:
    return (b"U" + locate.to_bytes(2, "big") + bytes(8) + ref.to_bytes(8, "big") + new.to_bytes(8, "big")
            + shares.to_bytes(4, "big") + price.to_bytes(4, "big"))


def _delete(ref: int, locate: int = 1) -> bytes:
    return b"D" + locate.to_bytes(2, "big") + bytes(8) + ref.to_bytes(8, "big")


def test_impossible_messages_are_counted_and_change_nothing() -> None:
    eng = _native.BookEngine(max_locate=10)
    for m in (_add(1), _add(2, price=10_100), _add(3, locate=2, side=b"S", price=20_000)):
        assert eng.apply(m)
    before = [eng.depth(loc, s, 10) for loc in (1, 2) for s in (0, 1)]
    cases = {
        "unknown_ref": [_exec(99, 10), _delete(98), _replace(97, 500)],
        "too_many_shares": [_exec(1, 101)],
        "duplicate_ref": [_add(2), _replace(1, 3)],
        "locate_mismatch": [_exec(3, 1, locate=1)],
        "bad_locate": [_add(50, locate=11), _add(51, locate=0)],
        "bad_side": [_add(52, side=b"X")],
        "bad_length": [_add(53)[:-1], _exec(1, 1) + b"\0", b""],
        "unknown_type": [b"z" + bytes(20)],
    }
    for counter, msgs in cases.items():
        for m in msgs:
            assert not eng.apply(m), (counter, m.hex())
        assert eng.stats()[counter] == len(msgs), counter
    assert [eng.depth(loc, s, 10) for loc in (1, 2) for s in (0, 1)] == before
    # a replace of a deleted order
    assert eng.apply(_delete(2)) and not eng.apply(_replace(2, 60))
    assert eng.stats()["unknown_ref"] == 4
    # a day file cut inside a message
    day = _frame([_add(70), _add(71)])
    assert eng.apply_day(day[:-5]) == 1 and eng.stats()["truncated"] == 1


def test_priority_and_replace_lose_time_priority() -> None:
    eng = _native.BookEngine(max_locate=4)
    for ref in (1, 2, 3):
        eng.apply(_add(ref, price=10_000, shares=ref * 10))
    assert eng.orders(1, 0, 0) == [(1, 10), (2, 20), (3, 30)]
    eng.apply(_replace(1, 4, shares=15, price=10_000))          # same price: to the back
    assert eng.orders(1, 0, 0) == [(2, 20), (3, 30), (4, 15)]
    assert eng.depth(1, 0, 5) == [(10_000, 65, 3)]
    eng.apply(_exec(2, 20))
    eng.apply(_add(5, price=10_100))
    assert eng.depth(1, 0, 5) == [(10_100, 100, 1), (10_000, 45, 2)]


def test_full_pools_drop_and_count() -> None:
    eng = _native.BookEngine(max_locate=4, max_orders=2, max_levels=1)
    assert eng.apply(_add(1)) and eng.apply(_add(2))
    assert not eng.apply(_add(3))                                   # no order left
    assert eng.apply(_delete(2))
    assert not eng.apply(_add(4, price=10_100))                     # no level left
    assert eng.apply(_replace(1, 5, price=10_200))                  # frees its own level: fits
    assert eng.stats()["pool_full"] == 2 and eng.depth(1, 0, 5) == [(10_200, 50, 1)]


def test_bad_sizes_refused() -> None:
    with pytest.raises(ValueError, match="max_locate"):
        _native.BookEngine(max_locate=0)



@pytest.mark.property
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(1, 10_000), wide=st.booleans(), adds=st.sampled_from([0.55, 0.7]))
def test_deep_books_equal_reference(seed: int, wide: bool, adds: float) -> None:
    """Books that grow a hundred and more levels deep and then drain, where
    adds and removals land far from the best: the engine searches and
    shifts the 16 levels at the back in one go, falls back to a binary
    search and a long move below them, grows its side arrays past their
    first size, and must leave only padding past the last level as the
    book shrinks back into the window. Prices include 0 and 2^32 - 1 (the
    ends of the sort keys)."""
    rng = random.Random(seed)
    eng, ref = _native.BookEngine(max_locate=4, max_orders=1 << 12, max_levels=1 << 11), ReferenceBooks(max_locate=4)
    live: list[tuple[int, int]] = []                            # (reference, locate)
    deepest = 0
    for next_ref in range(1, 2600):
        grow = next_ref < 1000                                  # grow, then drain
        p_add = adds if grow else 0.1
        tick = rng.randrange(300)
        price = (0, 0xFFFF_FFFF)[tick % 2] if tick >= 298 else 10_000 + tick * (100 if wide else 1)
        shares = rng.randint(1, 500)
        if rng.random() < p_add or not live:
            locate = rng.randint(1, 2)
            m = _add(next_ref, locate=locate, side=rng.choice([b"B", b"S"]), shares=shares, price=price)
            live.append((next_ref, locate))
        else:
            k = rng.randrange(len(live))
            victim, locate = live[k]
            kind = rng.choice("DDUEX" if grow else "DDDDDDUEX")
            if kind in "DU":
                live[k] = live[-1]
                live.pop()
            if kind == "D":
                m = _delete(victim, locate=locate)
            elif kind == "U":
                m = _replace(victim, next_ref, shares=shares, price=price, locate=locate)
                live.append((next_ref, locate))
            elif kind == "E":
                m = _exec(victim, shares, locate=locate)
            else:
                m = b"X" + locate.to_bytes(2, "big") + bytes(8) + victim.to_bytes(8, "big") + shares.to_bytes(4, "big")
        assert eng.apply(m) == ref.apply(m), m.hex()
        _same_book(eng, ref, locate)
        deepest = max(deepest, eng.levels(locate, 0), eng.levels(locate, 1))
    for loc in (1, 2):
        _same_book(eng, ref, loc)
    assert _stats(eng) == {k: v for k, v in ref.stats.items() if v}
    assert deepest > 64 or not wide and adds < 0.6
    assert max(eng.levels(loc, sd) for loc in (1, 2) for sd in (0, 1)) < 16         # drained into the window


def test_emptied_levels_are_invisible_and_given_back_when_the_pool_runs_dry() -> None:
    """A level emptied below the best is kept (a ghost) so that the next add at
    its price finds it; reads never show it, and a full level pool takes the
    ghosts back before it refuses an add - for an add and for a replace."""
    eng = _native.BookEngine(max_locate=4, max_orders=16, max_levels=4)
    for ref, price in ((1, 10_000), (2, 10_100), (3, 10_200), (4, 10_300)):
        assert eng.apply(_add(ref, price=price))
    assert eng.apply(_delete(2)) and eng.apply(_delete(3))              # two ghosts under the best
    assert eng.levels(1, 0) == 2 and eng.depth(1, 0, 9) == [(10_300, 100, 1), (10_000, 100, 1)]
    assert eng.orders(1, 0, 1) == [(1, 100)]
    assert eng.apply(_add(5, price=10_100))                             # the ghost comes back
    assert eng.apply(_add(6, price=10_400))                             # a full pool: the other ghost is taken
    assert eng.depth(1, 0, 9) == [(10_400, 100, 1), (10_300, 100, 1), (10_100, 100, 1), (10_000, 100, 1)]
    assert not eng.apply(_add(7, price=10_500)) and eng.stats()["pool_full"] == 1  # no ghost left to take
    small = _native.BookEngine(max_locate=4, max_orders=16, max_levels=2)
    assert small.apply(_add(1, price=10_000)) and small.apply(_add(2, price=10_100))
    assert small.apply(_replace(1, 3, price=10_200))                    # its level becomes a ghost, then is taken
    assert small.depth(1, 0, 9) == [(10_200, 50, 1), (10_100, 100, 1)] and small.stats()["pool_full"] == 0
    assert small.apply(_delete(3)) and small.apply(_delete(2)) and small.levels(1, 0) == 0


def test_many_ghosts_on_a_trending_side_stay_bounded() -> None:
    """Bids that step up all day leave an empty level behind at every step: the side
    is compacted, never carries more than a window of them, and equals the reference."""
    eng, ref = _native.BookEngine(max_locate=4, max_orders=1 << 10, max_levels=64), ReferenceBooks(max_locate=4)
    for k in range(1, 2000):
        msgs = [_add(2 * k, price=10_000 + k)] + ([_add(1, price=9_000)] if k == 1 else [])
        if k > 1:
            msgs.append(_delete(2 * k - 2))                             # the previous step's order leaves
        for m in msgs:
            assert eng.apply(m) == ref.apply(m)
    _same_book(eng, ref, 1)
    assert eng.stats()["pool_full"] == 0 and eng.levels(1, 0) == 2
