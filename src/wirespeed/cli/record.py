"""`wirespeed record`: a ring to pcapng files."""
from __future__ import annotations

from typing import Annotated

import typer

from wirespeed.cli.common import JsonOpt, RingArg, fail, out, print_json
from wirespeed.errors import UsageError, WirespeedError


def record(
    ring: RingArg,
    directory: Annotated[str, typer.Option("--dir", help="Folder for the pcapng files.")] = ".",
    rotate_mb: Annotated[float, typer.Option("--rotate-mb", help="Start a new file after this many MB (0: never).")] = 1024,
    rotate_s: Annotated[float, typer.Option("--rotate-s", help="Start a new file after this many seconds (0: never).")] = 0,
    keep: Annotated[int, typer.Option("--keep", help="Keep at most this many files, deleting the oldest (0: all).")] = 0,
    start: Annotated[str, typer.Option("--from", help="latest or oldest (when not resuming).")] = "latest",
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Carry on where the last recorder into this folder stopped (loss counted).")] = True,
    prefix: Annotated[str, typer.Option("--prefix", help="File names: PREFIX-<UTC time>-<n>.pcapng.")] = "wirespeed",
    wait_for_ring: Annotated[bool, typer.Option("--wait-for-ring", help="Wait up to 30 s for the ring to appear.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Record a ring to pcapng: one interface per stream, ns timestamps, rotation, and
    statistics blocks saying what was missed. Runs unprivileged; ends when the writer does.
    """
    import threading
    import time as _time
    from pathlib import Path

    from wirespeed.capture import record as rec
    from wirespeed.ring import resolve

    if start not in ("latest", "oldest"):
        raise fail(UsageError(f"invalid --from {start!r}", "latest or oldest"))
    if wait_for_ring:
        deadline = _time.monotonic() + 30
        while not resolve(ring).exists() and _time.monotonic() < deadline:
            _time.sleep(0.1)
    stop = threading.Event()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        res = rec.run(rec.RecordConfig(ring, Path(directory), int(rotate_mb * 1e6), rotate_s, keep, start,
                                       prefix=prefix, resume=resume), stop)
    except WirespeedError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(res)
    else:
        out.print(f"recorded {res['written']:,} packets to {len(res['files'])} file(s) in {directory}; "
                  f"lost {res['lost']} ({res['ended']})", soft_wrap=True)
