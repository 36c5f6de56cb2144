"""`wirespeed top`: a live view of every ring on the host."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from wirespeed.cli.common import fail
from wirespeed.errors import UsageError


def top(
    rings: Annotated[Optional[list[str]], typer.Argument(metavar="[RING]...", help="Rings to watch (default: every ring in /dev/shm and hugetlbfs mounts; new ones appear as they are made).")] = None,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between refreshes.")] = 1.0,
) -> None:
    """Watch every wirespeed ring live: writer state, records/s and bytes/s with a sparkline, drops by cause
    with their rate, the transport, and what book followers and traders publish (feed sessions: gaps, filled,
    lost, stale; the order session: link, orders, fills, rejects by check).

    Read-only and unprivileged (it maps the rings like any reader: read permission on the files is enough);
    it costs the writers nothing.

    Keys: Enter or o opens the selected ring in detail (Escape goes back), s sorts by name, rate or drops,
    p pauses, q quits. For machines, the same numbers: wirespeed metrics, or wirespeed ring info --json.
    """
    from wirespeed.monitor.rings import Monitor
    from wirespeed.monitor.top import TopApp

    if interval < 0.1:
        raise fail(UsageError(f"--interval {interval}: at least 0.1 s", "e.g. --interval 0.5"))
    TopApp(Monitor(rings), interval).run()
