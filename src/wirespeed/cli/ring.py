"""`wirespeed ring`: create, inspect and tail shared-memory rings."""
from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from wirespeed.cli.common import JsonOpt, RingArg, err, fail, fmt_bytes, out, print_json, print_json_line
from wirespeed.errors import EXIT_FAILURE, EXIT_OK, UsageError, WirespeedError

app = typer.Typer(
    help=(
        "The shared-memory broadcast ring: one writer, any number of independent readers.\n\n"
        "A ring is a file on /dev/shm or hugetlbfs (a bare NAME means /dev/shm/NAME). Readers map it "
        "read-only and need only read permission (mode 0640: the file's group)."
    ),
    no_args_is_help=True,
)


@app.command("create")
def ring_create(
    ring: RingArg,
    size: Annotated[str, typer.Option("--size", "-s", help="Payload bytes, rounded up to a power of two: 64M, 1G, 8G.")] = "64M",
    entries: Annotated[int, typer.Option("--entries", help="Index slots (power of two); 0 = size/256.")] = 0,
    mode: Annotated[str, typer.Option("--mode", help="File mode in octal; readers need read permission.")] = "0640",
    as_json: JsonOpt = False,
) -> None:
    """Create a ring file. Its memory is reserved now: an exhausted pool fails here, not mid-capture.

    Put it on a hugetlbfs mount (e.g. /dev/hugepages/feed) for 2 MiB or 1 GiB pages.
    """
    from wirespeed.ring import Ring

    try:
        file_mode = int(mode, 8)
    except ValueError:
        raise fail(UsageError(f"invalid mode {mode!r}", "give octal digits, e.g. 0640")) from None
    try:
        g = Ring.create(ring, size=size, entries=entries, mode=file_mode)
    except WirespeedError as exc:
        raise fail(exc) from None
    doc = {"path": str(g.path), "file_sz": g.file_sz, "payload_sz": g.payload_sz, "entry_cnt": g.entry_cnt,
           "page_sz": g.page_sz, "mode": f"{file_mode:04o}"}
    if as_json:
        print_json(doc)
    else:
        out.print(f"created {g.path}: payload {fmt_bytes(g.payload_sz)}, {g.entry_cnt} entries, "
                  f"file {fmt_bytes(g.file_sz)}, pages {fmt_bytes(g.page_sz)}, mode {file_mode:04o}", soft_wrap=True)


@app.command("info")
def ring_info(ring: RingArg, as_json: JsonOpt = False) -> None:
    """Layout, writer state (alive / closed / dead / never) and counters of a ring.

    Exit 1 if the writer is dead (it crashed or was killed without closing the ring).
    """
    from wirespeed.ring import Ring

    try:
        info = Ring.info(ring)
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(info)
    else:
        table = Table(title=f"ring {info['path']}", show_header=False)
        table.add_column(style="bold")
        table.add_column()
        state_style = {"alive": "green", "closed": "yellow", "dead": "bold red", "never": "dim"}[str(info["writer"])]
        table.add_row("writer", f"[{state_style}]{info['writer']}[/] (pid {info['writer_pid']}, epoch {info['epoch']})")
        age = info["heartbeat_age_s"]
        table.add_row("heartbeat", "never" if age is None else f"{age:.3f} s ago")
        table.add_row("layout", f"payload {fmt_bytes(int(info['payload_sz']))}, {info['entry_cnt']} entries, "
                      f"file {fmt_bytes(int(info['file_sz']))}, pages {fmt_bytes(int(info['page_sz']))}")
        table.add_row("records", f"{info['records_published']} published, next seq {info['head_seq']}, "
                      f"{fmt_bytes(int(info['bytes_total']))}")
        drops = info["drops"]
        table.add_row("drops", ", ".join(f"{k} {v}" for k, v in drops.items()))  # type: ignore[union-attr]
        out.print(table)
    raise typer.Exit(EXIT_FAILURE if info["writer"] == "dead" else EXIT_OK)


@app.command("tail")
def ring_tail(
    ring: RingArg,
    start: Annotated[str, typer.Option("--from", help="Where to start: latest, oldest, or a sequence number.")] = "latest",
    count: Annotated[int, typer.Option("--count", "-n", help="Stop after this many records (0: never).")] = 0,
    timeout: Annotated[float, typer.Option("--timeout", help="Stop after this many quiet seconds (0: never).")] = 0.0,
    width: Annotated[int, typer.Option("--bytes", help="Payload bytes to show per record.")] = 32,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line for machines.")] = False,
) -> None:
    """Print records as they arrive. Losses (this reader lapped) are printed too, with their exact count.

    Ends when the writer closes or dies and everything has been read (exit 0 closed, 1 dead).
    """
    import datetime as dt

    from wirespeed.ring import RingReader

    first: str | int = start
    if start not in ("latest", "oldest"):
        try:
            first = int(start)
        except ValueError:
            raise fail(UsageError(f"invalid --from {start!r}", "use latest, oldest or a sequence number")) from None
    shown = 0
    try:
        with RingReader(ring, first) as reader:
            while not count or shown < count:
                try:
                    batch = reader.wait(timeout=timeout or None, max=min(4096, count - shown) if count else 4096)
                except WirespeedError as exc:
                    state = reader.writer_state()[0]
                    if not as_json:
                        err.print(f"[dim]{exc.message}[/]", highlight=False)
                    raise typer.Exit(EXIT_FAILURE if state == "dead" else EXIT_OK) from None
                if batch.lost:
                    if as_json:
                        print_json_line({"lost": batch.lost, "next_seq": int(reader.next_seq)})
                    else:
                        err.print(f"[bold red]lost {batch.lost} records[/] (lapped by the writer)")
                if not len(batch):
                    break  # quiet for --timeout seconds
                for h, payload in batch:
                    data = bytes(payload[:width])
                    if as_json:
                        print_json_line({"seq": int(h["seq"]), "ts_ns": int(h["ts_ns"]), "stream": int(h["stream"]),
                                         "flags": int(h["flags"]), "len": int(h["len"]), "payload_hex": data.hex()})
                    else:
                        t = dt.datetime.fromtimestamp(int(h["ts_ns"]) // 10**9, dt.timezone.utc)
                        out.print(f"{int(h['seq']):>12} {t:%H:%M:%S}.{int(h['ts_ns']) % 10**9:09d} "
                                  f"stream {int(h['stream']):<5} len {int(h['len']):<5} {data.hex(' ')}",
                                  highlight=False, soft_wrap=True)
                shown += len(batch)
    except WirespeedError as exc:
        raise fail(exc) from None
